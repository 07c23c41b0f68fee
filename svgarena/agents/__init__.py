"""svgarena.agents"""
