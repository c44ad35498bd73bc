"""Train, test and predict any task: ``python train.py task=<name> [key=value ...]``.

Hydra composes ``conf/train.yaml`` with ``conf/task/<name>.yaml``; this file instantiates the data
module, builds the model from what the data describes, runs the stages that are switched on, and
leaves the run directory with the config, ``metrics.csv``, ``metrics.json``, checkpoints and the
task's reports. It returns ``optimized_metric`` for sweepers.

Any constructor argument of the task's model, data module, callbacks or of Lightning's ``Trainer``
can be set without a ``+`` (``trainer.limit_train_batches=5``); a name that is not an argument is
refused with the arguments there are.

The work is done in the ``fastlightning`` package: ``config`` composes and checks, ``runner`` runs
a task (and its earlier stages), ``cli`` is this command.
"""

from fastlightning.cli import entry

if __name__ == "__main__":
    entry()
