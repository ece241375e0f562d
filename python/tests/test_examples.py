"""Smoke tests of examples/python/train_lenet.py: a short run on one process and under torchrun (two Gloo
ranks on the CPU) finishes and reports its time table and test accuracy. Not a test of how well it learns:
a few thousand images are too few for that (one full epoch reaches about 81 %)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed as dist

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "python" / "train_lenet.py"
DATA = Path("/usr/share/datasets/fashion-mnist")
FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]

pytestmark = [
    pytest.mark.skipif(not SCRIPT.is_file(), reason=f"{SCRIPT} is not here (tests run outside the repository)"),
    pytest.mark.skipif(not all((DATA / f"{f}.gz").is_file() or (DATA / f).is_file() for f in FILES),
                       reason=f"Fashion-MNIST is not in {DATA} (Debian package dataset-fashion-mnist)"),
]

ACCURACY = re.compile(r"^epoch 1: test accuracy (\d+\.\d+)%$", re.MULTILINE)


def run(command, timeout=120):
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def check_report(out: str, training_images: int):
    assert out.count("train_lenet: fashion-mnist") == 1, out  # one header: only rank 0 prints
    assert f"{training_images} training / 10000 test images" in out, out
    assert "(ms per minibatch)" in out, out
    found = ACCURACY.findall(out)
    assert len(found) == 1, out
    assert 0.0 <= float(found[0]) <= 100.0, out


def test_train_lenet_one_process():
    # --device cpu even where a GPU is present: the CPU path is the one every CI machine has.
    out = run([sys.executable, str(SCRIPT), "--limit", "2000", "--epochs", "1", "--device", "cpu"])
    check_report(out, 2000)


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="torch without Gloo")
def test_train_lenet_under_torchrun():
    # --standalone: torchrun's rendezvous on a free local port, so parallel CI jobs do not collide.
    out = run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(SCRIPT),
               "--limit", "1000", "--epochs", "1", "--device", "cpu"])
    check_report(out, 1000)
    assert "2 ranks of 64 (DDP, gloo)" in out, out
