"""The Dassl adapter: ``--trainer VaMP``.

Config in (``TRAINER.VAMP.*``), the core model out, plus what Dassl 0.6.3 lacks on a current
stack: its own LR schedule, its own small and safe checkpoints, uncertainty metrics at test time.
Messages go through ``print`` because Dassl tees stdout into ``log.txt`` and disables ``logging``
below WARNING for the whole process.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from typing import Dict, Optional

import torch
from dassl.data import DataManager
from dassl.data.data_manager import DatasetWrapper, build_data_loader
from dassl.data.transforms import build_transform
from dassl.engine import TRAINER_REGISTRY, TrainerX
from dassl.utils import set_random_seed

from ..atomic import atomic_output, write_done_marker
from ..clip_backbone import load_clip
from ..config import HEADS
from ..metrics import (
    SampleSweepAccumulator,
    UncertaintyAccumulator,
    format_metrics_lines,
    write_metrics_json,
    write_per_image_csv,
)
from ..latents import LatentStatistics, image_seed, per_image_noise
from ..model import VaMPModel, average_probabilities
from ..prototypes import frozen_image_features
from .checkpoint import (
    CheckpointError,
    check_architecture,
    check_class_set,
    latest_epoch_file,
    load_checkpoint,
    save_checkpoint,
)
from .config import VAMP_KEYS, ConfigError, canonical_task, resolved_dataset_settings, vamp_config_from_cfg
from .schedule import build_optimizer, build_schedule

#: Keys that only affect evaluation: changing them between training and testing is expected.
EVALUATION_KEYS = (
    "TEST_SAMPLES",
    "INFERENCE",
    "TEXT_CHUNK_MB",
    "EVAL_HEAD",
    "SAVE_PER_IMAGE",
    "UNCERTAINTY_ANALYSIS",
    "PROTOTYPE_BATCH_SIZE",
    "CUDNN_BENCHMARK",
)
FEATURES_FILE = "train_features.pt"  # the offline frozen features of the training images
MODEL_NAME = "prompt_learner"  # checkpoint sub-folder, as in the CoOp family
RESUME_FILE = "resume.pth.tar"  # per-epoch training state, removed once training finishes
SWEEP_SAMPLES = (1, 2, 5, 10, 20)


class ImageReadError(OSError):
    """An image listed by the dataset cannot be decoded."""


class CheckedDatasetWrapper(DatasetWrapper):
    """Dassl's dataset wrapper, with an unreadable image named in one clear message."""

    def __getitem__(self, idx):
        try:
            return super().__getitem__(idx)
        except (OSError, SyntaxError) as err:  # PIL's UnidentifiedImageError is an OSError
            path = self.data_source[idx].impath
            raise ImageReadError(
                f"Cannot read image {path} ({type(err).__name__}: {err}). Fix: replace the file "
                "with a valid image (re-download the dataset), or remove it from the split file."
            ) from err


def evaluation_head(task: str, subsample: str, trained_on: Optional[str], dataset: str, override: str = "auto") -> str:
    """Which head predicts (MMRL's rule), unless TRAINER.VAMP.EVAL_HEAD forces one.

    * base-to-new: base classes -> fusion, new classes -> cls;
    * cross-dataset / domain generalisation: the source dataset -> fusion, every target -> cls;
    * few-shot -> fusion.
    """
    if override != "auto":
        return override
    if subsample == "new":
        return "cls"
    if canonical_task(task) in ("XD", "DG") and trained_on is not None and trained_on != dataset:
        return "cls"
    return "fusion"


@TRAINER_REGISTRY.register()
class VaMP(TrainerX):
    """Variational multi-modal prompt learning (NeurIPS 2025) on an MMRL base."""

    # ------------------------------------------------------------------------------- set-up
    def check_cfg(self, cfg) -> None:
        """Every VaMP setting is validated here, before any data or weights are loaded."""
        try:
            self._validate(cfg)
        except (ValueError, KeyError) as err:
            raise ConfigError(str(err.args[0]) if err.args else str(err)) from None

    def _validate(self, cfg) -> None:
        if "VAMP" not in cfg.TRAINER:
            raise KeyError(
                "TRAINER.VAMP keys are missing: call "
                "vamp_prompt.engine.add_vamp_config(cfg) in your train.py's extend_cfg"
            )
        missing = [k for k in VAMP_KEYS if k not in cfg.TRAINER.VAMP]
        if missing:
            raise KeyError(f"TRAINER.VAMP lacks {missing}: call add_vamp_config(cfg) first")
        if cfg.TRAINER.VAMP.PREC not in ("auto", "fp32", "fp16", "bf16"):
            raise ValueError(f"TRAINER.VAMP.PREC must be auto, fp32, fp16 or bf16, got {cfg.TRAINER.VAMP.PREC!r}")
        if cfg.TRAINER.VAMP.EVAL_HEAD not in ("auto",) + HEADS:
            raise ValueError(
                f"TRAINER.VAMP.EVAL_HEAD must be auto, fusion, cls or rep, got {cfg.TRAINER.VAMP.EVAL_HEAD!r}"
            )
        if cfg.TEST.FINAL_MODEL != "last_step":
            raise ValueError(
                "VaMP evaluates the last-epoch model (the family's protocol): set "
                f"TEST.FINAL_MODEL last_step, not {cfg.TEST.FINAL_MODEL!r}"
            )
        template = resolved_dataset_settings(cfg)["template"]
        if "{}" not in template:
            raise ValueError(f"TRAINER.VAMP.TEMPLATE {template!r} needs a '{{}}' for the class name")
        from .schedule import validate_optim

        validate_optim(cfg.OPTIM)
        canonical_task(cfg.TASK)
        vamp_config_from_cfg(cfg)  # validates every core value now, before data loading

    def build_data_loader(self) -> None:
        dm = DataManager(self.cfg, dataset_wrapper=CheckedDatasetWrapper)
        self.train_loader_x, self.train_loader_u = dm.train_loader_x, dm.train_loader_u
        self.val_loader, self.test_loader = dm.val_loader, dm.test_loader
        self.num_classes, self.lab2cname = dm.num_classes, dm.lab2cname
        self.num_source_domains = dm.num_source_domains
        self.dm = dm

    def build_model(self) -> None:
        cfg = self.cfg
        self.vamp_cfg = vamp_config_from_cfg(cfg)
        settings = resolved_dataset_settings(cfg)
        print(f"Loading CLIP ({cfg.MODEL.BACKBONE.NAME})")
        try:
            clip_model = load_clip(cfg.MODEL.BACKBONE.NAME, device="cpu")
        except (ValueError, RuntimeError, FileNotFoundError, ImportError) as err:
            raise ConfigError(f"MODEL.BACKBONE.NAME: {err}") from None
        resolution = clip_model.visual.input_resolution
        if tuple(cfg.INPUT.SIZE) != (resolution, resolution):
            raise ConfigError(
                f"INPUT.SIZE is {tuple(cfg.INPUT.SIZE)} but the CLIP in MODEL.BACKBONE.NAME "
                f"({cfg.MODEL.BACKBONE.NAME}) takes {resolution}x{resolution} images. Fix: set "
                f"INPUT.SIZE ({resolution}, {resolution}), for training and testing alike."
            )
        torch.backends.cudnn.benchmark = bool(cfg.TRAINER.VAMP.CUDNN_BENCHMARK)
        try:
            self.model = VaMPModel(clip_model, self.vamp_cfg).to(self.device)
        except ValueError as err:  # e.g. FIRST_PROMPT_LAYER beyond this CLIP's depth
            raise ConfigError(f"TRAINER.VAMP: {err}") from None
        self.classnames = list(self.dm.dataset.classnames)
        self.model.set_classes(self.classnames, settings["template"])
        base = self.vamp_cfg.base
        details = (
            f"template {settings['template']!r}, lambda {settings['lambda']}, d_r {settings['rep_dim']}"
            if base == "mmrl"
            else f"context {self.vamp_cfg.n_ctx} tokens from {self.vamp_cfg.ctx_init!r}, "
            f"depth {self.vamp_cfg.prompt_depth}"
        )
        print(f"VaMP variant '{self.vamp_cfg.variant}' on base {base}: {details}; precision {self.precision}")
        counts = self.model.parameter_counts()
        print("Trainable parameters: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        self.optim = build_optimizer(self.model.trainable_parameters(), cfg.OPTIM)
        self.sched = build_schedule(self.optim, cfg.OPTIM)
        self.register_model(MODEL_NAME, self.model.prompt_learner, self.optim, self.sched)
        use_scaler = self.precision == "fp16" and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None
        self.trained_on = cfg.DATASET.NAME  # replaced by the checkpoint's dataset on load

    @property
    def precision(self) -> str:
        """TRAINER.VAMP.PREC with ``auto`` resolved: fp16 autocast on CUDA, fp32 on CPU."""
        prec = self.cfg.TRAINER.VAMP.PREC
        if prec == "auto":
            return "fp16" if self.device.type == "cuda" else "fp32"
        return prec

    def autocast(self):
        prec = self.precision
        if prec == "fp32":
            return contextlib.nullcontext()
        dtype = torch.float16 if prec == "fp16" else torch.bfloat16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    # ------------------------------------------------------------------------------ training
    def before_train(self) -> None:
        """Offline features for the class-aware prior, a fresh seed, then resume (if any).

        Re-seeding after set-up gives every row and every rerun the same data order and
        augmentation, whatever set-up consumed (model initialisation, the prototype pass, a
        cache hit); resuming then restores the interrupted run's random state.
        """
        if self.vamp_cfg.class_prior:
            features, labels = self.training_features()
            self.model.set_prototype_features(features.to(self.device), labels, self.num_classes)
        if self.cfg.SEED >= 0:
            set_random_seed(self.cfg.SEED)
        self._training = True
        super().before_train()  # resumes through resume_model_if_exist below

    def training_features(self):
        """Frozen CLIP features of the training images (test transform), computed once and
        cached in the output dir: (N, E) and labels (N,)."""
        items = self.dm.dataset.train_x
        inputs = (
            self.cfg.MODEL.BACKBONE.NAME,
            self.cfg.INPUT.SIZE,
            self.cfg.INPUT.INTERPOLATION,
            self.cfg.INPUT.PIXEL_MEAN,
            self.cfg.INPUT.PIXEL_STD,
            self.precision,
        )
        key = hashlib.sha1("\n".join([f"{d.impath}|{d.label}" for d in items] + [repr(inputs)]).encode()).hexdigest()
        cache = os.path.join(self.output_dir, FEATURES_FILE)
        if os.path.isfile(cache):
            saved = torch.load(cache, map_location="cpu", weights_only=True)
            if saved.get("key") == key:
                print(f"Training-image features for the class prototypes loaded from {cache}")
                return saved["features"], saved["labels"]
        print(f"Computing the frozen features of {len(items)} training images (class prototypes)")
        loader = build_data_loader(
            self.cfg,
            sampler_type="SequentialSampler",
            data_source=items,
            batch_size=self.cfg.TRAINER.VAMP.PROTOTYPE_BATCH_SIZE,
            tfm=build_transform(self.cfg, is_train=False),
            is_train=False,
            dataset_wrapper=CheckedDatasetWrapper,
        )
        with self.autocast():
            features, labels = frozen_image_features(
                self.model.zero_shot_image_features, ((b["img"].to(self.device), b["label"]) for b in loader)
            )
        with atomic_output(cache, "wb") as handle:
            torch.save({"key": key, "features": features, "labels": labels}, handle)
        return features, labels

    def forward_backward(self, batch) -> Dict[str, float]:
        images, labels = self.parse_batch_train(batch)
        with self.autocast():
            out = self.model(images, n_samples=self.vamp_cfg.train_samples)
            parts = self.model.loss(out, labels)
        self.optim.zero_grad(set_to_none=True)
        self.detect_anomaly(parts.total)
        if self.scaler is not None:
            self.scaler.scale(parts.total).backward()
            self.scaler.step(self.optim)
            self.scaler.update()
        else:
            parts.total.backward()
            self.optim.step()
        with torch.no_grad():
            probs = average_probabilities(out.logits("fusion", self.vamp_cfg.fusion_alpha))
            acc = (probs.argmax(-1) == labels).float().mean().item() * 100
        summary = {"loss": parts.total.item(), "nll": parts.likelihood.item(), "kl": parts.kl.item(), "acc": acc}
        self._track_epoch(summary, out)
        if (self.batch_idx + 1) == self.num_batches:
            self.update_lr()
        return summary

    def _track_epoch(self, summary: Dict[str, float], out) -> None:
        """Averages over the current epoch (the last one is written to train_metrics.json)."""
        if self.batch_idx == 0 or not hasattr(self, "_epoch_sums"):
            self._epoch_sums, self._epoch_batches = {}, 0
            self._epoch_latents = LatentStatistics()
        self._epoch_batches += 1
        for key, value in summary.items():
            self._epoch_sums[key] = self._epoch_sums.get(key, 0.0) + value
        if out.posterior_mean is not None:
            self._epoch_latents.update(
                out.posterior_mean.detach(),
                None if out.posterior_logvar is None else out.posterior_logvar.detach(),
                self.vamp_cfg,
                self.model.base.text_tokens(),
            )

    def after_train(self) -> None:
        """Write the last epoch's training averages (loss, likelihood, KL, prompt offsets)."""
        if getattr(self, "_epoch_batches", 0):
            averages = {k: v / self._epoch_batches for k, v in self._epoch_sums.items()}
            averages.update({f"prompt_{k}": v for k, v in self._epoch_latents.compute().items()})
            write_metrics_json(
                os.path.join(self.output_dir, "train_metrics.json"),
                averages,
                {"epoch": self.epoch + 1, "variant": self.vamp_cfg.variant, "base": self.vamp_cfg.base},
            )
        super().after_train()
        # The marker the scripts and the results command look for; written here (not only by
        # our train.py) so that a fork's own train.py produces finished runs too.
        write_done_marker(self.output_dir, "training")

    def parse_batch_train(self, batch):
        return batch["img"].to(self.device), batch["label"].to(self.device)

    # ---------------------------------------------------------------------------- checkpoints
    def _payload(self, epoch: int, with_optimizer: bool) -> dict:
        payload = {
            "state_dict": self.model.trainable_state_dict(),
            "epoch": epoch,
            "vamp_config": self.vamp_cfg.to_dict(),
            "classnames": self.classnames,
            "dataset": self.cfg.DATASET.NAME,
            "subsample": self.cfg.DATASET.SUBSAMPLE_CLASSES,
            "task": self.cfg.TASK,
            "template": self.model.template,
            "prior_means": self.prior_means_for_plots(),
            "train_settings": self.train_settings(),
        }
        if with_optimizer:
            payload.update(
                optimizer=self.optim.state_dict(), scheduler=self.sched.state_dict(), torch_rng=torch.get_rng_state()
            )
            if torch.cuda.is_available():
                payload["cuda_rng"] = torch.cuda.get_rng_state_all()
            if self.scaler is not None:
                payload["grad_scaler"] = self.scaler.state_dict()
        return payload

    def prior_means_for_plots(self) -> torch.Tensor:
        """The class-aware prior's mean per training class (P, C, T, D) in fp16, for the latent
        plots of later evaluation runs (empty without a class prior)."""
        means = self.model.class_prior_means()
        return torch.zeros(0) if means is None else means.detach().half().cpu()

    def train_settings(self) -> Dict[str, str]:
        """Every setting that shapes training, as strings; resuming requires them unchanged."""
        cfg = self.cfg
        settings = {f"TRAINER.VAMP.{k}": cfg.TRAINER.VAMP[k] for k in VAMP_KEYS if k not in EVALUATION_KEYS}
        settings.update(
            {
                f"OPTIM.{k}": cfg.OPTIM[k]
                for k in (
                    "NAME",
                    "LR",
                    "WEIGHT_DECAY",
                    "MAX_EPOCH",
                    "LR_SCHEDULER",
                    "WARMUP_EPOCH",
                    "WARMUP_TYPE",
                    "WARMUP_CONS_LR",
                )
            }
        )
        settings.update(
            {
                "DATALOADER.TRAIN_X.BATCH_SIZE": cfg.DATALOADER.TRAIN_X.BATCH_SIZE,
                "DATASET.NUM_SHOTS": cfg.DATASET.NUM_SHOTS,
                "SEED": cfg.SEED,
                "MODEL.BACKBONE.NAME": cfg.MODEL.BACKBONE.NAME,
                "INPUT.SIZE": cfg.INPUT.SIZE,
                "INPUT.TRANSFORMS": cfg.INPUT.TRANSFORMS,
            }
        )
        # What 'auto' and the per-dataset defaults resolved to in this run.
        settings["resolved.PREC"] = self.precision
        settings.update({f"resolved.{k}": v for k, v in resolved_dataset_settings(cfg).items()})
        return {k: str(v) for k, v in settings.items()}

    def _check_settings(self, payload: dict, path: str, ignore: tuple = ()) -> None:
        saved = payload.get("train_settings", {})
        current = self.train_settings()
        changed = [
            f"{k}: {saved[k]} -> {current[k]}"
            for k in current
            if k in saved and k not in ignore and saved[k] != current[k]
        ]
        if changed:
            raise CheckpointError(
                f"{path} was trained with other settings ({'; '.join(changed)}). Fix: rerun with "
                "the original settings, or use a new --output-dir to train from scratch (the "
                "existing run is left as it is)."
            )

    def save_model(
        self,
        epoch: int,
        directory: str,
        is_best: bool = False,
        val_result: Optional[float] = None,
        model_name: str = "",
    ) -> None:
        """Final epoch: weights-only ``model.pth.tar-<E>``; earlier: the resume state."""
        folder = os.path.join(directory, MODEL_NAME)
        if (epoch + 1) == self.max_epoch:
            save_checkpoint(
                self._payload(epoch + 1, False), os.path.join(folder, model_name or f"model.pth.tar-{epoch + 1}")
            )
            resume = os.path.join(folder, RESUME_FILE)
            if os.path.exists(resume):
                os.remove(resume)
        else:
            save_checkpoint(self._payload(epoch + 1, True), os.path.join(folder, RESUME_FILE))

    def after_epoch(self) -> None:
        """Every epoch ends resumable (TEST.FINAL_MODEL is last_step, so there is no best-val
        bookkeeping to do): the resume state, or the final checkpoint after the last epoch."""
        self.save_model(self.epoch, self.output_dir)

    def _check(self, payload: dict, path: str, resuming: bool) -> None:
        check_architecture(payload, self.vamp_cfg.to_dict(), path)
        check_class_set(
            payload,
            self.classnames,
            self.cfg.DATASET.NAME,
            self.cfg.DATASET.SUBSAMPLE_CLASSES,
            canonical_task(self.cfg.TASK),
            path,
            resuming,
        )

    def resume_model_if_exist(self, directory) -> int:
        folder = os.path.join(directory, MODEL_NAME)
        resume = os.path.join(folder, RESUME_FILE)
        final = latest_epoch_file(folder)
        if os.path.isfile(resume):
            payload = load_checkpoint(resume)
            self._check(payload, resume, resuming=True)
            self._check_settings(payload, resume)
            self.model.load_trainable_state_dict(payload["state_dict"])
            self.optim.load_state_dict(payload["optimizer"])
            self.sched.load_state_dict(payload["scheduler"])
            torch.set_rng_state(payload["torch_rng"])
            if "cuda_rng" in payload and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(payload["cuda_rng"])
            if "grad_scaler" in payload and self.scaler is not None:
                self.scaler.load_state_dict(payload["grad_scaler"])
            print(f"Resuming from {resume} (epoch {payload['epoch']} of {self.max_epoch} done)")
            return int(payload["epoch"])
        if final is not None:
            payload = load_checkpoint(final)
            self._check(payload, final, resuming=True)
            self._check_settings(payload, final)
            self.model.load_trainable_state_dict(payload["state_dict"])
            print(f"Training already finished ({final}); nothing to train")
            return int(payload["epoch"])
        print("No checkpoint found, train from scratch")
        return 0

    def load_model(self, directory, epoch=None) -> None:
        if not directory:
            raise CheckpointError("--eval-only needs --model-dir (the training output directory)")
        folder = os.path.join(directory, MODEL_NAME)
        path = (
            os.path.join(folder, f"model.pth.tar-{epoch}")
            if epoch is not None
            else latest_epoch_file(folder) or os.path.join(folder, "model.pth.tar-<epoch>")
        )
        payload = load_checkpoint(path)
        self._check(payload, path, resuming=False)
        self.model.load_trainable_state_dict(payload["state_dict"])
        self.trained_on = payload.get("dataset")
        self.saved_prior_means = payload.get("prior_means", torch.zeros(0))
        self.trained_classnames = list(payload.get("classnames", []))
        print(
            f"Loaded {path} (epoch {payload['epoch']}, trained on {self.trained_on} {payload.get('subsample')} classes)"
        )

    # -------------------------------------------------------------------------------- testing
    def eval_head(self) -> str:
        return evaluation_head(
            self.cfg.TASK,
            self.cfg.DATASET.SUBSAMPLE_CLASSES,
            self.trained_on,
            self.cfg.DATASET.NAME,
            self.cfg.TRAINER.VAMP.EVAL_HEAD,
        )

    def test_noise(self, batch, n_samples: int) -> Optional[torch.Tensor]:
        """Posterior noise for each test image from its own generator, seeded by (SEED, the
        image's index in the split): results do not depend on TEST.BATCH_SIZE, on which images
        share a batch, or on the device; the first S draws of a larger S are the same draws."""
        shape = self.model.noise_shape(n_samples)
        if shape is None:
            return None
        run_seed = self.cfg.SEED if self.cfg.SEED >= 0 else 0
        seeds = [image_seed(run_seed, int(i)) for i in batch["index"]]
        return per_image_noise(seeds, shape, self.device)

    @torch.no_grad()
    def test(self, split=None):
        self.set_model_mode("eval")
        self.evaluator.reset()
        split = split or self.cfg.TEST.SPLIT
        loader = self.val_loader if split == "val" and self.val_loader is not None else self.test_loader
        split = "val" if loader is self.val_loader and split == "val" else "test"
        head = self.eval_head()
        mean_only = self.vamp_cfg.inference == "mean"
        samples = self.vamp_cfg.test_samples
        drawn = samples if self.vamp_cfg.variational and not mean_only else 1
        print(f"Evaluate on the *{split}* set (head: {head}, inference: {self.vamp_cfg.inference}, samples: {drawn})")
        metrics = UncertaintyAccumulator()
        latent_stats = LatentStatistics()
        for batch in loader:
            images, labels = self.parse_batch_test(batch)
            noise = None if mean_only else self.test_noise(batch, samples)
            with self.autocast():
                out = self.model(images, n_samples=samples, mean_only=mean_only, noise=noise, loss_terms=False)
            logits = out.logits(head, self.vamp_cfg.fusion_alpha)
            if out.posterior_mean is not None:
                latent_stats.update(
                    out.posterior_mean, out.posterior_logvar, self.vamp_cfg, self.model.base.text_tokens()
                )
            self.evaluator.process(average_probabilities(logits), labels)
            metrics.update(logits, labels)
        results = self.evaluator.evaluate()
        summary = metrics.compute()
        prompts = latent_stats.compute()
        if prompts:
            print(
                "* text prompt offset (relative to the shared tokens): "
                + ", ".join(f"{k} {v:.4g}" for k, v in prompts.items())
            )
            summary.update({f"prompt_{k}": v for k, v in prompts.items()})
        for line in format_metrics_lines(summary):
            print(line)
        for k, v in results.items():
            self.write_scalar(f"{split}/{k}", v, self.epoch)
        self._write_eval_outputs(split, head, summary, metrics, loader)
        if not getattr(self, "_training", False):  # --eval-only: the evaluation run is finished
            write_done_marker(self.output_dir, "evaluation")
        return list(results.values())[0]

    def _write_eval_outputs(self, split, head, summary, metrics, loader) -> None:
        cfg = self.cfg
        extra = {
            "dataset": cfg.DATASET.NAME,
            "subsample": cfg.DATASET.SUBSAMPLE_CLASSES,
            "split": split,
            "head": head,
            "variant": self.vamp_cfg.variant,
            "inference": self.vamp_cfg.inference,
            "seed": cfg.SEED,
            "task": cfg.TASK,
            "trained_on": self.trained_on,
        }
        write_metrics_json(os.path.join(self.output_dir, "metrics.json"), summary, extra)
        if cfg.TRAINER.VAMP.SAVE_PER_IMAGE:
            items = loader.dataset.data_source
            write_per_image_csv(
                os.path.join(self.output_dir, "per_image.csv"),
                [d.impath for d in items],
                [d.label for d in items],
                metrics.per_image_records(),
            )
        if cfg.TRAINER.VAMP.UNCERTAINTY_ANALYSIS:
            self.uncertainty_analysis(loader, head, metrics)

    @torch.no_grad()
    def uncertainty_analysis(self, loader, head: str, metrics: UncertaintyAccumulator) -> None:
        """Files for ``python -m vamp_prompt.plots``: reliability, accuracy/ECE vs S, latents."""
        from ..plots import write_latents, write_reliability, write_s_sweep

        folder = os.path.join(self.output_dir, "uncertainty")
        write_reliability(os.path.join(folder, "reliability.json"), metrics)
        sweep = SampleSweepAccumulator(SWEEP_SAMPLES)
        means, labels_seen = [], []
        for batch in loader:
            images, labels = self.parse_batch_test(batch)
            noise = self.test_noise(batch, max(SWEEP_SAMPLES))
            with self.autocast():
                out = self.model(images, n_samples=max(SWEEP_SAMPLES), noise=noise, loss_terms=False)
            logits = out.logits(head, self.vamp_cfg.fusion_alpha)
            if logits.shape[1] == max(SWEEP_SAMPLES):
                sweep.update(logits, labels)
            if out.posterior_mean is not None:  # (P, B, T, D) -> (P, B, T * D)
                means.append(out.posterior_mean.float().flatten(2).cpu())
                labels_seen.append(labels.cpu())
        if self.vamp_cfg.variational:
            write_s_sweep(os.path.join(folder, "s_sweep.json"), sweep.samples, sweep.compute())
        if means:
            layout = self.model.base.text_layout
            layers = list(range(layout.first + 1, layout.last + 1))
            prior_means = getattr(self, "saved_prior_means", None)
            if prior_means is None or not prior_means.numel():
                prior_means = self.prior_means_for_plots()
            same_classes = getattr(self, "trained_classnames", self.classnames) == self.classnames
            prior_means = prior_means.float().flatten(2) if prior_means.numel() and same_classes else None
            write_latents(
                os.path.join(folder, "latents.npz"),
                torch.cat(labels_seen),
                layers,
                torch.cat(means, dim=1),
                prior_means,
            )
        print(f"Uncertainty analysis written to {folder}")
