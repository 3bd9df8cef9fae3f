"""Invoices: top-up invoices, month-end usage statements, preview, history and PDFs."""
