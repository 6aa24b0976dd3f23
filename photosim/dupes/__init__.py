"""Duplicate finding, keep rules, calibration and the trash."""
