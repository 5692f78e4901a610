"""Grading: points per check, results.json, assignment files, grade-all over a class, the gradebook, the Gradescope
and Classroom bundles. May import checks, cases, training and sandbox; never run/ or report/.
"""
