"""The Dassl adapter's pieces: config keys, per-dataset defaults, head routing, LR schedule."""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip(
    "dassl", exc_type=ImportError, reason="Dassl is not installed (see README, Install): trainer tests skipped"
)

from dassl.config import get_cfg_default  # noqa: E402

from vamp_prompt.engine import VAMP_KEYS, add_vamp_config, vamp_config_from_cfg  # noqa: E402
from vamp_prompt.engine.config import canonical_task  # noqa: E402
from vamp_prompt.engine.schedule import WarmupCosineSchedule  # noqa: E402
from vamp_prompt.engine.trainer import evaluation_head  # noqa: E402


def vamp_cfg(dataset="DescribableTextures"):
    cfg = get_cfg_default()
    add_vamp_config(cfg)
    cfg.DATASET.NAME = dataset
    return cfg


def test_add_vamp_config_is_idempotent_and_keeps_host_keys():
    cfg = get_cfg_default()
    cfg.DATASET.SUBSAMPLE_CLASSES = "base"  # declared by the host fork first
    add_vamp_config(cfg)
    cfg.TRAINER.VAMP.BETA = 0.5
    add_vamp_config(cfg)
    assert cfg.DATASET.SUBSAMPLE_CLASSES == "base" and cfg.TASK == "B2N"
    assert cfg.TRAINER.VAMP.BETA == 0.5
    assert set(VAMP_KEYS) == set(cfg.TRAINER.VAMP.keys())
    with pytest.raises(AssertionError, match="NOT_A_KEY"):
        cfg.merge_from_list(["TRAINER.VAMP.NOT_A_KEY", "1"])


def test_per_dataset_defaults_and_explicit_overrides():
    euro = vamp_config_from_cfg(vamp_cfg("EuroSAT"))
    assert (euro.rep_dim, euro.consistency_weight) == (2048, 0.01)
    dtd = vamp_config_from_cfg(vamp_cfg())
    assert (dtd.rep_dim, dtd.consistency_weight) == (512, 6.0)
    cfg = vamp_cfg("EuroSAT")
    cfg.TRAINER.VAMP.REP_DIM = 512
    cfg.TRAINER.VAMP.LAMBDA = 0.2
    cfg.TRAINER.VAMP.VARIANT = "mmrl"
    core = vamp_config_from_cfg(cfg)
    assert (core.rep_dim, core.consistency_weight, core.variant) == (512, 0.2, "mmrl")
    cfg.TRAINER.VAMP.INFERENCE = "bayes"
    with pytest.raises(ValueError, match="inference"):
        vamp_config_from_cfg(cfg)


def test_unknown_dataset_falls_back_and_says_so_once(capsys):
    from vamp_prompt.engine.config import resolved_dataset_settings

    cfg = vamp_cfg("MyOwnDataset")
    first = resolved_dataset_settings(cfg)
    resolved_dataset_settings(cfg)
    out = capsys.readouterr().out
    assert out.count("'MyOwnDataset' has no entry") == 1
    assert "TRAINER.VAMP.TEMPLATE" in out and "TRAINER.VAMP.LAMBDA" in out
    assert first == {"template": "a photo of a {}.", "lambda": 1.0, "rep_dim": 512}
    cfg.TRAINER.VAMP.TEMPLATE, cfg.TRAINER.VAMP.LAMBDA, cfg.TRAINER.VAMP.REP_DIM = "{}", 2.0, 64
    resolved_dataset_settings(vamp_cfg("OtherOwnDataset"))
    assert capsys.readouterr().out.count("has no entry") == 1


def test_maple_keys_reach_the_core():
    cfg = vamp_cfg()
    cfg.TRAINER.VAMP.BASE, cfg.TRAINER.VAMP.VARIANT = "maple", "vamp"
    cfg.TRAINER.VAMP.N_CTX, cfg.TRAINER.VAMP.PROMPT_DEPTH = 3, 5
    core = vamp_config_from_cfg(cfg)
    assert (core.base, core.n_ctx, core.prompt_depth, core.n_tokens) == ("maple", 3, 5, 3)
    assert core.prior_code == "posterior_mean" and not core.prototype_grad


def test_evaluation_head_routing():
    assert evaluation_head("B2N", "base", "DescribableTextures", "DescribableTextures") == "fusion"
    assert evaluation_head("B2N", "new", "DescribableTextures", "DescribableTextures") == "cls"
    assert evaluation_head("XD", "all", "ImageNet", "ImageNet") == "fusion"
    assert evaluation_head("XD", "all", "ImageNet", "EuroSAT") == "cls"
    assert evaluation_head("CD", "all", "ImageNet", "EuroSAT") == "cls"  # MMRL's name
    assert evaluation_head("DG", "all", "ImageNet", "ImageNetR") == "cls"
    assert evaluation_head("FS", "all", "EuroSAT", "EuroSAT") == "fusion"
    assert evaluation_head("B2N", "new", "X", "X", override="rep") == "rep"
    assert canonical_task("cd") == "XD"
    with pytest.raises(ValueError, match="TASK"):
        canonical_task("ZS")


def test_schedule_constant_warmup_then_cosine_and_state_roundtrip():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([param], lr=1e-3)
    sched = WarmupCosineSchedule(opt, max_epoch=10, warmup_epoch=1, warmup_type="constant", warmup_lr=1e-5)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(9):
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[0] == pytest.approx(1e-5)
    assert lrs[1] == pytest.approx(1e-3)  # recount: the cosine restarts after the warm-up
    assert lrs[5] == pytest.approx(0.5e-3 * (1 + math.cos(math.pi * 4 / 10)))
    state = sched.state_dict()
    assert all(isinstance(v, (int, list)) for v in state.values())  # plain, weights_only-safe
    opt2 = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched2 = WarmupCosineSchedule(opt2, max_epoch=10, warmup_epoch=1, warmup_lr=1e-5)
    sched2.load_state_dict(state)
    assert opt2.param_groups[0]["lr"] == pytest.approx(lrs[-1])


def test_latest_epoch_file_ignores_temporary_files(tmp_path):
    from vamp_prompt.engine.checkpoint import latest_epoch_file

    for name in (
        "model.pth.tar-2",
        "model.pth.tar-10",
        "model.pth.tar-10.tmp-4321",
        "resume.pth.tar",
        "model-best.pth.tar",
    ):
        (tmp_path / name).write_bytes(b"")
    assert latest_epoch_file(str(tmp_path)) == str(tmp_path / "model.pth.tar-10")
    assert latest_epoch_file(str(tmp_path / "missing")) is None


def test_checkpoint_guards_architecture_and_class_set():
    from vamp_prompt.config import VaMPConfig
    from vamp_prompt.engine.checkpoint import CheckpointError, check_architecture, check_class_set

    payload = {
        "vamp_config": VaMPConfig().to_dict(),
        "classnames": ["a", "b"],
        "dataset": "DescribableTextures",
        "subsample": "base",
    }
    check_architecture(payload, VaMPConfig().to_dict(), "ckpt")
    with pytest.raises(CheckpointError, match="TRAINER.VAMP.REP_DIM 512"):
        check_architecture(payload, VaMPConfig(rep_dim=2048).to_dict(), "ckpt")
    # same classes: evaluation and resume are fine
    check_class_set(payload, ["a", "b"], "DescribableTextures", "base", "B2N", "ckpt", True)
    # new classes of the same dataset, from the base model: fine
    check_class_set(payload, ["c", "d"], "DescribableTextures", "new", "B2N", "ckpt", False)
    # cross-dataset target: any class set
    check_class_set(payload, ["x"], "EuroSAT", "all", "XD", "ckpt", False)
    with pytest.raises(CheckpointError, match="another class set"):
        check_class_set(payload, ["a", "c"], "DescribableTextures", "base", "B2N", "ckpt", False)
    with pytest.raises(CheckpointError, match="base classes"):
        check_class_set(payload, ["x"], "EuroSAT", "new", "B2N", "ckpt", False)
    with pytest.raises(CheckpointError, match="another class set"):
        check_class_set(payload, ["x"], "EuroSAT", "all", "XD", "ckpt", True)  # resume elsewhere
