"""Train neural differential equations that are cheap to integrate.

Layers, from the bottom up (nothing below imports from above):

- ``study.nde``: solving neural ODEs/SDEs with solver statistics (NFE, steps) and regularizer hooks.
- ``study.regularizers``: the local error-estimate regularizer and every global baseline.
- ``study.tasks``: data sets and models.
- ``study.train``: one training run, one metrics record.
- ``study.search``: experiments, Optuna studies, storage and workers.
- ``study.report``: Pareto export and dashboards, reading only from storage.
- ``study.cli``: the ``study`` command.
"""

__version__ = "0.1.0"
