"""Writes the PyTorch reference case of the platform smoke test (platform/smoke.lua) with
tools/make_layer_fixtures.py's writer: a 2-layer bidirectional LSTM with initial states,
its outputs and every gradient.

Run with Debian's torch:  /usr/bin/python3 platform/make_smoke_fixture.py
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import make_layer_fixtures  # noqa: E402

make_layer_fixtures.OUT = os.path.join(HERE, "fixtures")
make_layer_fixtures.make_case("lstm_2layer_bidir", "LSTM",
                              dict(input_size=4, hidden_size=6, num_layers=2, bidirectional=True),
                              5, 3, True, seed=3000)
