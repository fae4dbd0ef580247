"""scikit-learn's estimator checks on wimpsift's estimators.

The checks feed generic 2-D numeric arrays with any labels; our estimators take event
tables (DataFrames with named columns) or images (N, H, W), and two classes (ER 0,
WIMP 1). Checks that cannot pass for these documented reasons are listed, per check,
through scikit-learn's ``expected_failed_checks``; every other check must pass
(cloning, parameters, repr, tags, fit on 1-D input rejected, ...).
"""

from __future__ import annotations

import warnings

from sklearn.utils.estimator_checks import parametrize_with_checks

from wimpsift.training.baselines import EventVariableMLP, NRBandMedianSelection
from wimpsift.training.cnn_estimator import CNNClassifier

TABLE = "takes an event table (pandas DataFrame with named columns), not a bare array"
IMAGES = "takes images (N, H, W) or (N, C, H, W), not a 2-D feature array"
INPUT_CHECKS = (
    "check_classifier_data_not_an_array", "check_classifiers_classes", "check_classifiers_train",
    "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object",
    "check_estimators_dtypes", "check_estimators_fit_returns_self",
    "check_estimators_overwrite_params", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_fit2d_predict1d", "check_fit_check_is_fitted",
    "check_fit_idempotent", "check_fit_score_takes_y", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_n_features_in", "check_n_features_in_after_fitting",
    "check_pipeline_consistency", "check_readonly_memmap_input", "check_supervised_y_2d",
    "check_positive_only_tag_during_fit",
    # the sample-weight checks (EventVariableMLP takes sample_weight) also fit bare arrays
    "check_sample_weights_pandas_series", "check_sample_weights_not_an_array",
    "check_sample_weights_list", "check_all_zero_sample_weights_error",
    "check_sample_weights_shape", "check_sample_weights_not_overwritten",
    "check_sample_weight_equivalence_on_dense_data",
)
MESSAGES = "our errors are wimpsift's one-line DataError naming the parameter, not sklearn's wording"
OWN_REASONS = {
    "check_classifiers_one_label": "two classes by design (ER 0 and WIMP 1); one class is a DataError",
    "check_classifiers_regression_target": "labels must be 0 or 1; " + MESSAGES,
    "check_requires_y_none": MESSAGES,
    "check_complex_data": MESSAGES,
    "check_estimators_empty_data_messages": MESSAGES,
    "check_fit2d_1feature": MESSAGES,
    "check_fit2d_1sample": MESSAGES,
    "check_estimators_nan_inf": "input checked for the expected layout first (then non-finite values)",
    "check_estimator_sparse_array": "dense event tables or images only",
    "check_estimator_sparse_matrix": "dense event tables or images only",
    "check_estimator_sparse_tag": "dense event tables or images only",
    "check_estimators_unfitted": "predict before fit stops at the input-layout check (DataError) "
                                 "before the fitted check",
}


def expected_failed_checks(estimator) -> dict[str, str]:
    reason = IMAGES if isinstance(estimator, CNNClassifier) else TABLE
    own = {name: reason for name in INPUT_CHECKS}
    if isinstance(estimator, EventVariableMLP):
        own["check_non_transformer_estimators_n_iter"] = reason  # fits on a table only
        own["check_classifiers_one_label_sample_weights"] = reason  # fits with weights
    else:  # decision_function and predict_proba are compared on a bare array
        own["check_decision_proba_consistency"] = reason
    return {**own, **OWN_REASONS}


warnings.filterwarnings("ignore", category=UserWarning)


@parametrize_with_checks(
    [NRBandMedianSelection(), EventVariableMLP(max_iter=20),
     CNNClassifier(epochs=1, batch_size=16, num_threads=1, device="cpu")],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
