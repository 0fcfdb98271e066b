"""Analyses that run a built network: gradient flow at initialization."""
