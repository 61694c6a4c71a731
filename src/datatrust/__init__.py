"""Datatrust: a marketplace where people license their own human data on their own terms."""
