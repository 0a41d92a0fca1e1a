"""Tiny synthetic datasets in the REAL on-disk layouts, so the real readers run on them.

Each class gets its own colour (plus a class-specific stripe pattern and noise),
so even a small model can tell the classes apart. Class names are real names of
the dataset (mixed lengths, as prompt lengths matter). No Dassl import; the
``.mat`` files of OxfordFlowers and StanfordCars need ``scipy``.

    python -m vamp_prompt.data.synthetic DescribableTextures /tmp/data --classes 5 --images 10
"""

from __future__ import annotations

import argparse
import colorsys
import json
import logging
import os
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .builders import stanford_cars_classname, sun397_classname, ucf101_folder_name
from .splits import SplitEntry, write_split_file

__all__ = ["SYNTHETIC_DATASETS", "write_synthetic_dataset", "main"]

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------- names
DTD_CLASSES = (
    "banded blotchy braided bubbly bumpy chequered cobwebbed cracked crosshatched crystalline "
    "dotted fibrous flecked freckled frilly gauzy grid grooved honeycombed interlaced knitted "
    "lacelike lined marbled matted meshed paisley perforated pitted pleated polka-dotted porous "
    "potholed scaly smeared spiralled sprinkled stained stratified striped studded swirly veined "
    "waffled woven wrinkled zigzagged"
).split()

EUROSAT_FOLDERS = (
    "AnnualCrop Forest HerbaceousVegetation Highway Industrial Pasture PermanentCrop Residential River SeaLake"
).split()

CALTECH101_FOLDERS = sorted(
    (
        "Faces Leopards Motorbikes accordion airplanes anchor ant barrel bass beaver binocular "
        "bonsai brain brontosaurus buddha butterfly camera cannon car_side ceiling_fan cellphone "
        "chair chandelier cougar_body cougar_face crab crayfish crocodile crocodile_head cup "
        "dalmatian dollar_bill dolphin dragonfly electric_guitar elephant emu euphonium ewer ferry "
        "flamingo flamingo_head garfield gerenuk gramophone grand_piano hawksbill headphone hedgehog "
        "helicopter ibis inline_skate joshua_tree kangaroo ketch lamp laptop llama lobster lotus "
        "mandolin mayfly menorah metronome minaret nautilus octopus okapi pagoda panda pigeon pizza "
        "platypus pyramid revolver rhino rooster saxophone schooner scissors scorpion sea_horse "
        "snoopy soccer_ball stapler starfish stegosaurus stop_sign strawberry sunflower tick "
        "trilobite umbrella watch water_lilly wheelchair wild_cat windsor_chair wrench yin_yang"
    ).split()
)
CALTECH101_EXTRA_FOLDERS = ("BACKGROUND_Google", "Faces_easy")

FOOD101_CLASSES = (
    "apple_pie baby_back_ribs baklava beef_carpaccio beef_tartare beet_salad beignets bibimbap "
    "bread_pudding breakfast_burrito bruschetta caesar_salad cannoli caprese_salad carrot_cake "
    "ceviche cheese_plate cheesecake chicken_curry chicken_quesadilla chicken_wings chocolate_cake "
    "chocolate_mousse churros clam_chowder club_sandwich crab_cakes creme_brulee croque_madame "
    "cup_cakes"
).split()

# (image-name prefix, species: 1 cat / 2 dog), in class-id order.
PETS_BREEDS = (
    ("Abyssinian", 1),
    ("american_bulldog", 2),
    ("american_pit_bull_terrier", 2),
    ("basset_hound", 2),
    ("beagle", 2),
    ("Bengal", 1),
    ("Birman", 1),
    ("Bombay", 1),
    ("boxer", 2),
    ("British_Shorthair", 1),
    ("chihuahua", 2),
    ("Egyptian_Mau", 1),
    ("english_cocker_spaniel", 2),
    ("english_setter", 2),
    ("german_shorthaired", 2),
    ("great_pyrenees", 2),
    ("havanese", 2),
    ("japanese_chin", 2),
    ("keeshond", 2),
    ("leonberger", 2),
    ("Maine_Coon", 1),
    ("miniature_pinscher", 2),
    ("newfoundland", 2),
    ("Persian", 1),
    ("pomeranian", 2),
    ("pug", 2),
    ("Ragdoll", 1),
    ("Russian_Blue", 1),
    ("saint_bernard", 2),
    ("samoyed", 2),
    ("scottish_terrier", 2),
    ("shiba_inu", 2),
    ("Siamese", 1),
    ("Sphynx", 1),
    ("staffordshire_bull_terrier", 2),
    ("wheaten_terrier", 2),
    ("yorkshire_terrier", 2),
)

FLOWERS_CLASSES = (
    "pink primrose",
    "hard-leaved pocket orchid",
    "canterbury bells",
    "sweet pea",
    "english marigold",
    "tiger lily",
    "moon orchid",
    "bird of paradise",
    "monkshood",
    "globe thistle",
    "snapdragon",
    "colt's foot",
    "king protea",
    "spear thistle",
    "yellow iris",
    "globe-flower",
    "purple coneflower",
    "peruvian lily",
    "balloon flower",
    "giant white arum lily",
    "fire lily",
    "pincushion flower",
    "fritillary",
    "red ginger",
    "grape hyacinth",
    "corn poppy",
    "prince of wales feathers",
    "stemless gentian",
    "artichoke",
    "sweet william",
)  # label i + 1 in cat_to_name.json

CARS_CLASSES = (
    "AM General Hummer SUV 2000",
    "Acura RL Sedan 2012",
    "Acura TL Sedan 2012",
    "Acura TL Type-S 2008",
    "Acura TSX Sedan 2012",
    "Acura Integra Type R 2001",
    "Acura ZDX Hatchback 2012",
    "Aston Martin V8 Vantage Convertible 2012",
    "Aston Martin V8 Vantage Coupe 2012",
    "Aston Martin Virage Convertible 2012",
    "Aston Martin Virage Coupe 2012",
    "Audi RS 4 Convertible 2008",
    "Audi A5 Coupe 2012",
    "Audi TTS Coupe 2012",
    "Audi R8 Coupe 2012",
    "Audi V8 Sedan 1994",
    "Audi 100 Sedan 1994",
    "Audi 100 Wagon 1994",
    "Audi TT Hatchback 2011",
    "Audi S6 Sedan 2011",
    "BMW X5 SUV 2007",
    "Bugatti Veyron 16.4 Coupe 2009",
    "Chevrolet Corvette ZR1 2012",
    "Tesla Model S Sedan 2012",
    "smart fortwo Convertible 2012",
)

AIRCRAFT_VARIANTS = (
    "707-320",
    "727-200",
    "737-200",
    "737-300",
    "A300B4",
    "A310",
    "ATR-42",
    "An-12",
    "BAE 146-200",
    "BAE-125",
    "Beechcraft 1900",
    "Boeing 717",
    "C-130",
    "CRJ-200",
    "Cessna 172",
    "Challenger 600",
    "DC-10",
    "DH-82",
    "Dornier 328",
    "E-170",
    "Embraer Legacy 600",
    "Eurofighter Typhoon",
    "F-16A/B",
    "F/A-18",
    "Falcon 2000",
    "Fokker 100",
    "Global Express",
    "Gulfstream IV",
    "Hawk T1",
    "Il-76",
)

SUN397_FOLDERS = (
    "a/abbey",
    "a/apartment_building/outdoor",
    "a/airport_terminal",
    "b/bakery/shop",
    "a/alley",
    "a/apse/indoor",
    "a/amusement_park",
    "b/balcony/interior",
    "a/aquarium",
    "a/arrival_gate/outdoor",
    "a/art_gallery",
    "a/atrium/public",
    "a/attic",
    "a/auditorium",
    "b/badlands",
    "b/badminton_court/indoor",
    "b/baggage_claim",
    "b/balcony/exterior",
    "b/ball_pit",
    "b/ballroom",
    "b/bamboo_forest",
    "b/banquet_hall",
    "b/bar",
    "b/barn",
    "a/amphitheater",
    "a/anechoic_chamber",
    "a/aqueduct",
    "a/arch",
    "a/archive",
    "a/art_school",
)  # mixed single/two-level names first; written in sorted order

UCF101_ACTIONS = (
    "ApplyEyeMakeup",
    "ApplyLipstick",
    "Archery",
    "BabyCrawling",
    "BalanceBeam",
    "BandMarching",
    "BaseballPitch",
    "Basketball",
    "BasketballDunk",
    "BenchPress",
    "Biking",
    "Billiards",
    "BlowDryHair",
    "BlowingCandles",
    "BodyWeightSquats",
    "Bowling",
    "BoxingPunchingBag",
    "BoxingSpeedBag",
    "BreastStroke",
    "BrushingTeeth",
    "CleanAndJerk",
    "CliffDiving",
    "CricketBowling",
    "CricketShot",
    "CuttingInKitchen",
    "Diving",
    "Drumming",
    "Fencing",
    "FieldHockeyPenalty",
    "FloorGymnastics",
)

IMAGENET_CLASSES = (
    ("n01440764", "tench"),
    ("n01443537", "goldfish"),
    ("n01484850", "great white shark"),
    ("n01491361", "tiger shark"),
    ("n01494475", "hammerhead shark"),
    ("n01496331", "electric ray"),
    ("n01498041", "stingray"),
    ("n01514668", "rooster"),
    ("n01514859", "hen"),
    ("n01518878", "ostrich"),
    ("n01530575", "brambling"),
    ("n01531178", "goldfinch"),
    ("n01532829", "house finch"),
    ("n01534433", "junco"),
    ("n01537544", "indigo bunting"),
    ("n01558993", "American robin"),
    ("n01560419", "bulbul"),
    ("n01580077", "jay"),
    ("n01582220", "magpie"),
    ("n01592084", "chickadee"),
    ("n01601694", "American dipper"),
    ("n01608432", "kite (bird of prey)"),
    ("n01614925", "bald eagle"),
    ("n01616318", "vulture"),
    ("n01622779", "great grey owl"),
    ("n01629819", "fire salamander"),
    ("n01630670", "smooth newt"),
    ("n01631663", "newt"),
    ("n01632458", "spotted salamander"),
    ("n01632777", "axolotl"),
    ("n01641577", "American bullfrog"),
    ("n01644373", "tree frog"),
    ("n01644900", "tailed frog"),
    ("n01664065", "loggerhead sea turtle"),
    ("n01665541", "leatherback sea turtle"),
    ("n01667114", "mud turtle"),
    ("n01667778", "terrapin"),
    ("n01669191", "box turtle"),
    ("n01675722", "banded gecko"),
    ("n01677366", "green iguana"),
)


# ------------------------------------------------------------------- writing
class _Writer:
    """Draws class-coloured images and splits each class's images."""

    def __init__(self, root: str, folder: str, num_classes: int, per_class: int, size: int, seed: int):
        import numpy as np

        self.np = np
        self.rng = np.random.default_rng(seed)
        self.dir = os.path.join(os.path.abspath(root), folder)
        self.n = num_classes
        self.k = per_class
        self.size = size

    def path(self, *parts: str) -> str:
        return os.path.join(self.dir, *parts)

    def image(self, relpath: str, cls: int) -> str:
        """Write a ``size``x``size`` image for class ``cls`` at ``relpath`` (under the dataset)."""
        from PIL import Image

        np = self.np
        hue = (cls / max(self.n, 1) + 0.05 * (cls % 2)) % 1.0
        colour = np.array(colorsys.hsv_to_rgb(hue, 0.75, 0.9)) * 255.0
        img = np.empty((self.size, self.size, 3), dtype=np.float32)
        img[:] = colour
        period = 2 + cls % 5  # class-specific stripes: a second cue besides colour
        img[:, :: period * 2] *= 0.7
        img += self.rng.normal(0.0, 12.0, img.shape)
        full = self.path(relpath)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
        if full.lower().endswith(".png"):
            pil.save(full)
        else:
            pil.save(full, format="JPEG", quality=95)
        return full

    def counts(self) -> Tuple[int, int, int]:
        """Per class: (train, val, test), each at least 1."""
        n_test = max(1, round(self.k * 0.3))
        n_val = max(1, round(self.k * 0.2))
        return self.k - n_val - n_test, n_val, n_test

    def part_of(self, i: int) -> str:
        n_train, n_val, _ = self.counts()
        return "train" if i < n_train else ("val" if i < n_train + n_val else "test")

    def text(self, relpath: str, lines: Sequence[str]) -> None:
        full = self.path(relpath)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))

    def split(self, filename: str, split: Dict[str, List[SplitEntry]]) -> None:
        write_split_file(self.path(filename), split)

    def random_name(self, n: int, alphabet: str = "abcdefghijklmnopqrstuvwxyz") -> str:
        return "".join(alphabet[i] for i in self.rng.integers(0, len(alphabet), n))


def _empty_split() -> Dict[str, List[SplitEntry]]:
    return {"train": [], "val": [], "test": []}


def _folder_dataset(
    w: _Writer,
    image_subdir: str,
    folders: Sequence[str],
    classname: Callable[[str], str],
    filename: Callable[[str, int], str],
    split_filename: str,
) -> None:
    split = _empty_split()
    for label, folder in enumerate(sorted(folders)):
        for i in range(w.k):
            rel = f"{folder}/{filename(folder, i)}"
            w.image(f"{image_subdir}/{rel}", label)
            split[w.part_of(i)].append((rel, label, classname(folder)))
    w.split(split_filename, split)


def _write_dtd(w: _Writer) -> None:
    _folder_dataset(
        w,
        "images",
        DTD_CLASSES[: w.n],
        lambda c: c,
        lambda c, i: f"{c}_{i + 1:04d}.jpg",
        "split_zhou_DescribableTextures.json",
    )


def _write_eurosat(w: _Writer) -> None:
    from .names import EUROSAT_CLASSNAMES

    _folder_dataset(
        w,
        "2750",
        EUROSAT_FOLDERS[: w.n],
        lambda c: EUROSAT_CLASSNAMES[c],
        lambda c, i: f"{c}_{i + 1}.jpg",
        "split_zhou_EuroSAT.json",
    )


def _write_caltech101(w: _Writer) -> None:
    from .names import CALTECH101_RENAMES

    _folder_dataset(
        w,
        "101_ObjectCategories",
        CALTECH101_FOLDERS[: w.n],
        lambda c: CALTECH101_RENAMES.get(c, c),
        lambda c, i: f"image_{i + 1:04d}.jpg",
        "split_zhou_Caltech101.json",
    )
    for j, folder in enumerate(CALTECH101_EXTRA_FOLDERS):  # on disk, never in the split
        for i in range(2):
            w.image(f"101_ObjectCategories/{folder}/image_{i + 1:04d}.jpg", w.n + j)


def _write_food101(w: _Writer) -> None:
    classes = FOOD101_CLASSES[: w.n]
    ids = {c: [str(100000 + 7919 * (j * w.k + i)) for i in range(w.k)] for j, c in enumerate(classes)}
    _folder_dataset(
        w,
        "images",
        classes,
        lambda c: c,
        lambda c, i: f"{ids[c][i]}.jpg",
        "split_zhou_Food101.json",
    )
    w.text("meta/classes.txt", classes)
    w.text("meta/labels.txt", [c.replace("_", " ").capitalize() for c in classes])
    n_train, n_val, _ = w.counts()
    w.text("meta/train.txt", [f"{c}/{ids[c][i]}" for c in classes for i in range(n_train + n_val)])
    w.text("meta/test.txt", [f"{c}/{ids[c][i]}" for c in classes for i in range(n_train + n_val, w.k)])


def _write_oxford_pets(w: _Writer) -> None:
    split = _empty_split()
    trainval: List[str] = []
    test: List[str] = []
    for label, (breed, species) in enumerate(PETS_BREEDS[: w.n]):
        for i in range(w.k):
            stem = f"{breed}_{i + 1}"
            w.image(f"images/{stem}.jpg", label)
            part = w.part_of(i)
            split[part].append((f"{stem}.jpg", label, breed.lower()))
            line = f"{stem} {label + 1} {species} {label + 1}"
            (test if part == "test" else trainval).append(line)
    w.text("annotations/trainval.txt", trainval)
    w.text("annotations/test.txt", test)
    w.text("annotations/list.txt", ["#Image CLASS-ID SPECIES BREED ID"] + trainval + test)
    w.split("split_zhou_OxfordPets.json", split)


def _write_oxford_flowers(w: _Writer) -> None:
    import numpy as np
    from scipy.io import savemat

    order = [(label, i) for label in range(w.n) for i in range(w.k)]
    perm = w.rng.permutation(len(order))  # the real image numbers interleave classes
    labels = np.zeros((1, len(order)), dtype=np.uint8)
    split = _empty_split()
    ids: Dict[str, List[int]] = {"train": [], "val": [], "test": []}
    for number, idx in enumerate(perm, 1):
        label, i = order[idx]
        name = f"image_{number:05d}.jpg"
        w.image(f"jpg/{name}", label)
        labels[0, number - 1] = label + 1
        part = w.part_of(i)
        split[part].append((name, label, FLOWERS_CLASSES[label]))
        ids[part].append(number)
    os.makedirs(w.dir, exist_ok=True)
    savemat(w.path("imagelabels.mat"), {"labels": labels})
    savemat(
        w.path("setid.mat"),
        {
            k: np.array([v], dtype=np.uint16)
            for k, v in (("trnid", ids["train"]), ("valid", ids["val"]), ("tstid", ids["test"]))
        },
    )
    with open(w.path("cat_to_name.json"), "w", encoding="utf-8") as f:
        json.dump({str(y + 1): FLOWERS_CLASSES[y] for y in range(w.n)}, f)
    for part in split:
        split[part].sort()
    w.split("split_zhou_OxfordFlowers.json", split)


def _mat_annotations(rows: Sequence[Tuple[str, int]], with_class: bool):
    import numpy as np

    fields = ["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"] + (["class"] if with_class else []) + ["fname"]
    arr = np.zeros((1, len(rows)), dtype=[(f, "O") for f in fields])
    for j, (fname, label) in enumerate(rows):
        for f in fields[:4]:
            arr[0, j][f] = np.array([[1 if f.endswith("1") else 30]], dtype=np.uint16)
        if with_class:
            arr[0, j]["class"] = np.array([[label + 1]], dtype=np.uint8)
        arr[0, j]["fname"] = np.array([fname])
    return arr


def _write_stanford_cars(w: _Writer) -> None:
    import numpy as np
    from scipy.io import savemat

    split = _empty_split()
    train_rows: List[Tuple[str, int]] = []
    test_rows: List[Tuple[str, int]] = []
    for label in range(w.n):
        cname = stanford_cars_classname(CARS_CLASSES[label])
        for i in range(w.k):
            part = w.part_of(i)
            rows, folder = (test_rows, "cars_test") if part == "test" else (train_rows, "cars_train")
            fname = f"{len(rows) + 1:05d}.jpg"
            rows.append((fname, label))
            w.image(f"{folder}/{fname}", label)
            split[part].append((f"{folder}/{fname}", label, cname))
    names = np.empty((1, w.n), dtype=object)
    for j in range(w.n):
        names[0, j] = np.array([CARS_CLASSES[j]])
    os.makedirs(w.path("devkit"), exist_ok=True)
    savemat(w.path("devkit", "cars_meta.mat"), {"class_names": names})
    savemat(
        w.path("devkit", "cars_train_annos.mat"),
        {"annotations": _mat_annotations(train_rows, True)},
    )
    savemat(w.path("devkit", "cars_test_annos.mat"), {"annotations": _mat_annotations(test_rows, False)})
    savemat(w.path("cars_test_annos_withlabels.mat"), {"annotations": _mat_annotations(test_rows, True)})
    w.split("split_zhou_StanfordCars.json", split)


def _write_fgvc_aircraft(w: _Writer) -> None:
    variants = list(AIRCRAFT_VARIANTS[: w.n])
    lists: Dict[str, List[str]] = {"train": [], "val": [], "test": []}
    number = 1000000
    for label, variant in enumerate(variants):
        for i in range(w.k):
            number += 1 + int(w.rng.integers(0, 50))
            w.image(f"images/{number:07d}.jpg", label)
            lists[w.part_of(i)].append(f"{number:07d} {variant}")
    w.text("variants.txt", variants)
    for part, lines in lists.items():
        w.text(f"images_variant_{part}.txt", sorted(lines))
    w.text("images_variant_trainval.txt", sorted(lists["train"] + lists["val"]))


def _write_sun397(w: _Writer) -> None:
    folders = sorted(SUN397_FOLDERS[: w.n])
    split = _empty_split()
    training: List[str] = []
    testing: List[str] = []
    for label, folder in enumerate(folders):
        for i in range(w.k):
            rel = f"{folder}/sun_{w.random_name(16)}.jpg"
            w.image(f"SUN397/{rel}", label)
            part = w.part_of(i)
            split[part].append((rel, label, sun397_classname(folder)))
            (testing if part == "test" else training).append("/" + rel)
    w.text("ClassName.txt", ["/" + f for f in folders])
    w.text("Training_01.txt", training)
    w.text("Testing_01.txt", testing)
    w.split("split_zhou_SUN397.json", split)


def _write_ucf101(w: _Writer) -> None:
    actions = list(UCF101_ACTIONS[: w.n])
    split = _empty_split()
    trainlist: List[str] = []
    testlist: List[str] = []
    for label, action in enumerate(actions):
        folder = ucf101_folder_name(action)
        for i in range(w.k):
            part = w.part_of(i)
            group = (1 + i % 7) if part == "test" else (8 + i)  # test list uses groups 1-7
            video = f"v_{action}_g{group:02d}_c{1 + i // 7:02d}"
            w.image(f"UCF-101-midframes/{folder}/{video}.jpg", label)
            split[part].append((f"{folder}/{video}.jpg", label, folder))
            if part == "test":
                testlist.append(f"{action}/{video}.avi")
            else:
                trainlist.append(f"{action}/{video}.avi {label + 1}")
    w.text("ucfTrainTestlist/classInd.txt", [f"{j + 1} {a}" for j, a in enumerate(actions)])
    w.text("ucfTrainTestlist/trainlist01.txt", trainlist)
    w.text("ucfTrainTestlist/testlist01.txt", testlist)
    w.split("split_zhou_UCF101.json", split)


def _classnames_lines(pairs: Sequence[Tuple[str, str]]) -> List[str]:
    return [f"{wnid} {name}" for wnid, name in pairs]


def _write_imagenet(w: _Writer) -> None:
    pairs = IMAGENET_CLASSES[: w.n]
    n_val = max(1, round(w.k * 0.3))
    counter = 0
    for label, (wnid, _) in enumerate(pairs):
        for i in range(w.k):
            if i < w.k - n_val:
                w.image(f"images/train/{wnid}/{wnid}_{i + 1}.JPEG", label)
            else:
                counter += 1
                w.image(f"images/val/{wnid}/ILSVRC2012_val_{counter:08d}.JPEG", label)
    w.text("classnames.txt", _classnames_lines(pairs))


def _write_imagenetv2(w: _Writer) -> None:
    pairs = IMAGENET_CLASSES[: w.n]
    for label in range(w.n):
        for _ in range(w.k):
            name = w.random_name(40, "0123456789abcdef")
            w.image(f"imagenetv2-matched-frequency-format-val/{label}/{name}.jpeg", label)
    w.text("classnames.txt", _classnames_lines(pairs))


def _write_imagenet_sketch(w: _Writer) -> None:
    pairs = IMAGENET_CLASSES[: w.n]
    for label, (wnid, _) in enumerate(pairs):
        for i in range(w.k):
            w.image(f"images/{wnid}/sketch_{i}.JPEG", label)
    w.text("classnames.txt", _classnames_lines(pairs))


def _wnid_subset_variant(w: _Writer, subdir: str, filename: Callable[[str, int], str]) -> None:
    # classnames.txt lists every class; only every other one has a folder (a 200-of-1000 subset).
    present = IMAGENET_CLASSES[1::2][: w.n]
    for label, (wnid, name) in enumerate(present):
        for i in range(w.k):
            w.image(f"{subdir}/{wnid}/{filename(name, i)}", label)
    w.text(f"{subdir}/README.txt", [f"{subdir}: synthetic stand-in, {w.n} classes"])
    w.text("classnames.txt", _classnames_lines(IMAGENET_CLASSES))


def _write_imagenet_a(w: _Writer) -> None:
    _wnid_subset_variant(w, "imagenet-a", lambda name, i: f"0.{i:06d}_{name.replace(' ', '_')}_{i % 3}.jpg")


def _write_imagenet_r(w: _Writer) -> None:
    kinds = (
        "art",
        "cartoon",
        "deviantart",
        "embroidery",
        "graffiti",
        "origami",
        "painting",
        "sketch",
    )
    _wnid_subset_variant(w, "imagenet-r", lambda name, i: f"{kinds[i % len(kinds)]}_{i}.jpg")


# registry name -> (folder, writer, max classes, min images per class)
_WRITERS: Dict[str, Tuple[str, Callable[[_Writer], None], int, int]] = {
    "ImageNet": ("imagenet", _write_imagenet, len(IMAGENET_CLASSES), 2),
    "Caltech101": ("caltech-101", _write_caltech101, len(CALTECH101_FOLDERS), 3),
    "OxfordPets": ("oxford_pets", _write_oxford_pets, len(PETS_BREEDS), 3),
    "StanfordCars": ("stanford_cars", _write_stanford_cars, len(CARS_CLASSES), 3),
    "OxfordFlowers": ("oxford_flowers", _write_oxford_flowers, len(FLOWERS_CLASSES), 3),
    "Food101": ("food-101", _write_food101, len(FOOD101_CLASSES), 3),
    "FGVCAircraft": ("fgvc_aircraft", _write_fgvc_aircraft, len(AIRCRAFT_VARIANTS), 3),
    "SUN397": ("sun397", _write_sun397, len(SUN397_FOLDERS), 3),
    "DescribableTextures": ("dtd", _write_dtd, len(DTD_CLASSES), 3),
    "EuroSAT": ("eurosat", _write_eurosat, len(EUROSAT_FOLDERS), 3),
    "UCF101": ("ucf101", _write_ucf101, len(UCF101_ACTIONS), 3),
    "ImageNetV2": ("imagenetv2", _write_imagenetv2, len(IMAGENET_CLASSES), 1),
    "ImageNetSketch": ("imagenet-sketch", _write_imagenet_sketch, len(IMAGENET_CLASSES), 1),
    "ImageNetA": ("imagenet-adversarial", _write_imagenet_a, len(IMAGENET_CLASSES) // 2, 1),
    "ImageNetR": ("imagenet-rendition", _write_imagenet_r, len(IMAGENET_CLASSES) // 2, 1),
}

#: Registry names the synthetic writer supports (all fifteen).
SYNTHETIC_DATASETS: Tuple[str, ...] = tuple(_WRITERS)

# Family config/module names accepted as aliases.
_ALIASES = {
    "imagenet": "ImageNet",
    "caltech101": "Caltech101",
    "oxford_pets": "OxfordPets",
    "stanford_cars": "StanfordCars",
    "oxford_flowers": "OxfordFlowers",
    "food101": "Food101",
    "fgvc_aircraft": "FGVCAircraft",
    "sun397": "SUN397",
    "dtd": "DescribableTextures",
    "eurosat": "EuroSAT",
    "ucf101": "UCF101",
    "imagenet_v2": "ImageNetV2",
    "imagenetv2": "ImageNetV2",
    "imagenet_sketch": "ImageNetSketch",
    "imagenet_a": "ImageNetA",
    "imagenet_r": "ImageNetR",
}


def _canonical(name: str) -> str:
    if name in _WRITERS:
        return name
    lowered = {k.lower(): k for k in _WRITERS}
    key = name.strip().lower()
    if key in lowered:
        return lowered[key]
    if key in _ALIASES:
        return _ALIASES[key]
    raise ValueError(f"No synthetic writer for {name!r}; supported: {', '.join(SYNTHETIC_DATASETS)}")


def write_synthetic_dataset(
    name: str,
    root: str,
    num_classes: int,
    images_per_class: int,
    image_size: int = 32,
    seed: int = 0,
) -> str:
    """Write a tiny synthetic ``name`` dataset under ``root`` in its real layout.

    ``name`` is a registry name (``"DescribableTextures"``) or a family file name
    (``"dtd"``). Writes the images, the split file (or FGVCAircraft's txt lists,
    ImageNet's ``classnames.txt``, the ``.mat`` files) and returns the dataset
    folder (e.g. ``<root>/dtd``). Refuses to write into a non-empty folder.
    """
    canonical = _canonical(name)
    folder, writer, max_classes, min_images = _WRITERS[canonical]
    if not 1 <= num_classes <= max_classes:
        raise ValueError(f"{canonical}: num_classes must be in 1..{max_classes}, got {num_classes}")
    if images_per_class < min_images:
        raise ValueError(
            f"{canonical}: images_per_class must be >= {min_images} (one per split part), got {images_per_class}"
        )
    if image_size < 8:
        raise ValueError(f"image_size must be >= 8, got {image_size}")
    w = _Writer(root, folder, num_classes, images_per_class, image_size, seed)
    if os.path.isdir(w.dir) and os.listdir(w.dir):
        raise FileExistsError(f"Refusing to write a synthetic dataset into the non-empty folder {w.dir}")
    os.makedirs(w.dir, exist_ok=True)
    writer(w)
    logger.info(
        "Wrote synthetic %s (%d classes x %d images) to %s",
        canonical,
        num_classes,
        images_per_class,
        w.dir,
    )
    return w.dir


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI: ``python -m vamp_prompt.data.synthetic NAME ROOT [--classes N] [--images K]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="registry or family name; 'all' for every dataset")
    parser.add_argument("root", help="DATASET.ROOT to write into")
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--images", type=int, default=10, help="images per class")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    names = SYNTHETIC_DATASETS if args.name == "all" else (args.name,)
    for name in names:
        path = write_synthetic_dataset(name, args.root, args.classes, args.images, args.size, args.seed)
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
