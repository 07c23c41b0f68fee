"""svgarena.serve"""
