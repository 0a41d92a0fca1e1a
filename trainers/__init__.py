"""Checkout-only shim (not installed): the CoOp-family `trainers` package, re-exporting VaMP."""
