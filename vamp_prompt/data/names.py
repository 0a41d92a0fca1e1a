"""Class-name clean-ups of the CoOp family (facts about the datasets; no Dassl import)."""

from __future__ import annotations

__all__ = ["CALTECH101_IGNORED", "CALTECH101_RENAMES", "EUROSAT_CLASSNAMES"]

#: Caltech101 folders that are not object classes (the family drops them).
CALTECH101_IGNORED = ("BACKGROUND_Google", "Faces_easy")
#: Caltech101 folder -> class name clean-ups used by the family.
CALTECH101_RENAMES = {
    "airplanes": "airplane",
    "Faces": "face",
    "Leopards": "leopard",
    "Motorbikes": "motorbike",
}
#: EuroSAT folder -> descriptive class name used by the family.
EUROSAT_CLASSNAMES = {
    "AnnualCrop": "Annual Crop Land",
    "Forest": "Forest",
    "HerbaceousVegetation": "Herbaceous Vegetation Land",
    "Highway": "Highway or Road",
    "Industrial": "Industrial Buildings",
    "Pasture": "Pasture Land",
    "PermanentCrop": "Permanent Crop Land",
    "Residential": "Residential Buildings",
    "River": "River",
    "SeaLake": "Sea or Lake",
}
