"""``train --distribute``: TensorFlow's own distribution strategies, nothing home-made.

* ``mirrored``: ``tf.distribute.MirroredStrategy`` over every local GPU; on a machine
  without GPUs, ``--cpu-replicas N`` splits the CPU into N logical devices (for
  testing the distributed path, not for speed).
* ``multiworker`` (``tf.distribute.MultiWorkerMirroredStrategy``) is refused with its
  reason: Keras 3's ``Model.fit``, which every recipe here trains with, fails under it
  ("Attempt to convert a value (PerReplica...)": keras-team/keras#20585, open;
  tensorflow/tensorflow#72388). Tried here with two workers on 127.0.0.1.

The recipe's batch size is the *global* batch (split across replicas), so a run gives
the same kind of model whatever the strategy. ``--scale-batch`` instead multiplies the
global batch by the replica count and the learning rate with it (the linear scaling
rule, Goyal et al., 2017), TensorFlow's recommendation for using more devices for speed.
"""

from __future__ import annotations

from dataclasses import dataclass

from fmnistedge.errors import UsageError

STRATEGIES = ("mirrored",)
MULTIWORKER_REASON = ("--distribute multiworker is not available: Keras 3's Model.fit fails under "
                      "MultiWorkerMirroredStrategy (keras-team/keras#20585); use 'mirrored' on one machine")
MAX_CPU_REPLICAS = 16


@dataclass(frozen=True)
class Plan:
    strategy: object  # a tf.distribute.Strategy
    kind: str
    replicas: int


def make_plan(kind: str, cpu_replicas: int | None = None) -> Plan:
    """Create the strategy. Must run before TensorFlow has set up its devices."""
    import tensorflow as tf

    if kind == "multiworker":
        raise UsageError(MULTIWORKER_REASON)
    if kind not in STRATEGIES:
        raise UsageError(f"Unknown --distribute {kind!r}; choose one of: {', '.join(STRATEGIES)}")
    if cpu_replicas is not None and not 1 <= cpu_replicas <= MAX_CPU_REPLICAS:
        raise UsageError(f"--cpu-replicas must be 1-{MAX_CPU_REPLICAS}. Received: {cpu_replicas}")
    if cpu_replicas and not tf.config.list_physical_devices("GPU"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_replicas)
        except RuntimeError:
            pass  # devices already set up in this process (a second run in one process): use them
    devices = None
    if not tf.config.list_physical_devices("GPU"):
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    strategy = tf.distribute.MirroredStrategy(devices)
    return Plan(strategy, kind, strategy.num_replicas_in_sync)


def shard_by_data(dataset):
    """Shard an in-memory dataset by element across workers (there are no files to shard by)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
