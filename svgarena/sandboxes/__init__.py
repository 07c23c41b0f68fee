"""svgarena.sandboxes"""
