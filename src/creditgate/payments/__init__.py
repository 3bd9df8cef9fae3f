"""Payments: payment methods, top-ups and auto top-up behind one processor interface."""
