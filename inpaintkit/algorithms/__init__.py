"""Classical inpainting algorithms: one module per method, Numba kernels in ``_*_kernels``."""
