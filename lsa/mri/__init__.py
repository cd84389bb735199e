"""Part IV: white-matter radiomics for ASD classification (Song et al. 2024, arXiv 2405.16248), rebuilt.

Modules
-------
simulate    simulated T1w cohort from nilearn's bundled MNI152 template, with a calibrated WM effect
bids        writer and validating loader of the BIDS-like folder real data use (ABIDE coding)
malformed   malformed copies of a BIDS-like folder, for the loader's rejection checks
seg_unet    a small 2D UNet (torch), the building block of the MultiUNet
segment     tri-planar MultiUNet training / fusion, Dice
intensity   the intensity (Gaussian-mixture) white-matter baseline
radiomics   pyradiomics 3.0.1 features with the shipped parameter file
measure     everything measured on one subject from a single render (features per d, site, masks, CNN inputs)
classify    scikit-learn pipelines (SVM/RF/LR/KNN), nested CV, CIs, permutation test, McNemar, random splits
cnn         a small 3D CNN on the segmented white matter
reference   the paper's published numbers and the test-set size they imply
"""
