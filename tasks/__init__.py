"""The pipeline's stages: one module per stage, named for it (`tasks/extract.py` is stage `extract`),
each declaring its `StageSpec` once (what it reads and writes, its parameters, its compute).
`stage.py` is the declaration and its runner, `graph.py` the order derived from the declarations,
`decisions.py` and `readers.py` what several stages share, `prefect_tasks.py` the one Prefect task
per stage (the only module here that imports Prefect).
"""
