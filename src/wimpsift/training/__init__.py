"""Training: estimators with scikit-learn conventions, grid search, baselines."""
