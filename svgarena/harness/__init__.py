"""svgarena.harness"""
