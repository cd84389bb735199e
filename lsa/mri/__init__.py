"""Part IV: white-matter radiomics for ASD classification (Song et al. 2024, arXiv 2405.16248), rebuilt.

Modules
-------
simulate    simulated T1w cohort from nilearn's bundled MNI152 template, with a calibrated WM effect
bids        writer and validating loader of the BIDS-like folder real data use (ABIDE coding)
unet        a small 2D UNet (torch)
segment     tri-planar MultiUNet training / fusion, intensity (GMM) baseline, Dice
radiomics   pyradiomics 3.0.1 features with the shipped parameter file, per-subject cache, parallel
classify    scikit-learn pipelines (SVM/RF/LR/KNN), nested CV, CIs, permutation test
cnn         a small 3D CNN on the segmented white matter

Used by the chapters ``asd_segmentation`` and ``asd_classification``.
"""
