"""Pipeline stages: one module per stage, each a plain function `(store, upstream results, params) → StageResult`.

No module here imports Prefect except `prefect_tasks`, which wraps the stages as thin @task's.
"""
