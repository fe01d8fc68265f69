"""fastMRI-like 1-D reconstruction workload (CPU suite): U-Net, L1 loss, SSIM."""
