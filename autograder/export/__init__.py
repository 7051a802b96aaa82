"""Exports: the grade files other tools read (grades.csv, grades.json)."""
