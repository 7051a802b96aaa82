"""The judge: pytest with nnzoo's plugin, run in a trusted process."""
