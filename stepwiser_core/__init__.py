"""StepWiser study core: the thin, tested library behind the notebooks."""
