"""A small Django project for test_frameworks.py (no database)."""
