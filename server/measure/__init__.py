"""Measuring on the patient's device: the pose model's files, the measurements as data, and their results."""
