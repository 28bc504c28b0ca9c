"""Transforms: conversions between formats and rates."""
