"""Tests of doctor.py: the doctor's words on the terminal (the modes themselves are tested
through mnist.py in test_nn.py)."""
from extras import doctor


def test_the_doctors_table_names_only_the_last_layer_the_output_layer(capsys):
    """With leaky_relu (no dead or saturated share to show) a hidden layer is shown as -,
    and only the last layer as the output layer."""
    layer = {"weight_rms": 0.1, "grad_rms": 1e-3, "update_ratio": 1e-3, "dead": None,
             "saturated": None}
    history = [{"epoch": 1, "layers": [dict(layer, layer=i) for i in (1, 2, 3)],
                "loss": 1.0, "val_accuracy": None, "train_accuracy": 0.5}]
    doctor.print_findings(history, [4, 5, 5, 3], say=lambda remedy: remedy["say"])
    rows = capsys.readouterr().out.splitlines()[3:6]
    assert [row.endswith("(output layer)") for row in rows] == [False, False, True]
