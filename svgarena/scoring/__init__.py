"""svgarena.scoring"""
