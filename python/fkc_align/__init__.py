"""fkc_align: the budget-constrained active preference-alignment loop on top of fkc_kernels."""
