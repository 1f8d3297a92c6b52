"""What ``fmnistedge archs`` shows: every registered architecture with its counts."""

from __future__ import annotations

from typing import Any

from fmnistedge.training import zoo


def describe(name: str) -> dict[str, Any]:
    from fmnistedge.training.zoo.stats import count_macs

    spec = zoo.get(name)
    model = zoo.build(name)
    return {
        "name": name,
        "family": spec.family,
        "params": int(model.count_params()),
        "macs": count_macs(model),
        "source": spec.source,
        "reported_accuracy": spec.reported_accuracy,
        "reported_epochs": spec.reported_epochs,
        "recipe": {
            "optimizer": spec.recipe.optimizer, "learning_rate": spec.recipe.learning_rate,
            "batch_size": spec.recipe.batch_size, "epochs": spec.recipe.epochs,
            "early_stopping": spec.recipe.early_stopping, "augment": spec.recipe.augment,
        },
        "notes": spec.notes,
    }


def describe_all(include_test: bool = False) -> list[dict[str, Any]]:
    from fmnistedge.training.train import require_keras

    require_keras("Counting parameters and MACs")
    return [describe(n) for n in zoo.names(include_test)]
