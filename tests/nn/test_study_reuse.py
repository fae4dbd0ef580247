"""``study_inputs`` reuses networks already trained on the same samples (``reproduce lux``'s
5-D comparison hands it its prompt-fraction networks): the same numbers as training again."""

import pandas as pd

from wimpsift.training.discriminant import train_one_mass, validated_config
from wimpsift.training.studies import study_inputs


def test_reused_networks_give_the_numbers_of_training_again(toy, tmp_path):
    cfg = validated_config(masses_gev=[10, 50], epochs_from_scratch=3, epochs_transfer=2, max_retrains=0,
                           mi_subsets=3)
    def samples(mass):
        return toy(mass, n=400)

    # trained as the 5-D comparison does: one mass at a time, each from the previous network
    trained, previous = {}, None
    for mass in (10.0, 50.0):
        model = train_one_mass(mass, samples(mass), cfg.model_copy(update={"masses_gev": [mass]}),
                               initial=previous)
        trained[mass], previous = model, model.network
    reused = study_inputs("raw_vs_corrected", cfg, samples, tmp_path / "a", trained={"corrected": trained})
    fresh = study_inputs("raw_vs_corrected", cfg, samples, tmp_path / "b")
    volatile = ["training_seconds"]
    pd.testing.assert_frame_equal(reused.drop(columns=volatile), fresh.drop(columns=volatile))
    corrected = reused[reused["variant"] == "corrected"]
    seconds = [trained[m].metrics["training_seconds"] for m in (10.0, 50.0)]
    assert list(corrected["training_seconds"]) == seconds
