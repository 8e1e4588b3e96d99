"""An exported encoder file that is the same file, and computes the same vectors, on every machine.

Two things in onnxruntime's int8 export would make it otherwise:
- torch's exporter writes on every node the Python file and line that made it, the checkout's path
  included, so the file's sha256 would change with the folder and with any edit of train.py;
- quantize_dynamic stores the weights as signed int8 and the activations as unsigned. On x86 CPUs
  without VNNI (AVX2 or AVX-512 alone: AMD EPYC Rome and Milan, Intel Skylake), onnxruntime
  multiplies such pairs with an instruction that adds two products into 16 bits and saturates,
  so the vectors, and the routing, differ from those of a VNNI CPU (onnxruntime's quantization
  docs name the issue; docs/results.md has what it cost). The same weights stored unsigned
  (value + 128, zero point 128) take the unsigned kernel, which computes the products exactly on
  every CPU: the same numbers, in another type.
Needs the onnx package (the training environment), never the proxy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

# MatMulInteger(A, B, a_zero_point, b_zero_point): the weights are B, with their zero points.
_WEIGHT, _WEIGHT_ZERO_POINT = 1, 3


def make_portable(path: Path) -> None:
    """Rewrite the model file in place: no source locations, integer-product weights unsigned."""
    model = onnx.load(str(path))
    for node in model.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    initializers = {i.name: i for i in model.graph.initializer}
    for name in _signed_weights(model):
        signed = numpy_helper.to_array(initializers[name])
        initializers[name].CopyFrom(
            numpy_helper.from_array((signed.astype(np.int16) + 128).astype(np.uint8), name)
        )
    onnx.save(model, str(path))


def _signed_weights(model: onnx.ModelProto) -> set[str]:
    """The int8 initializers that are only ever an integer product's weights or their zero points."""
    int8 = {i.name for i in model.graph.initializer if i.data_type == onnx.TensorProto.INT8}
    used_as_weight: set[str] = set()
    used_otherwise: set[str] = set()
    for node in model.graph.node:
        for position, name in enumerate(node.input):
            weight = node.op_type == "MatMulInteger" and position in (_WEIGHT, _WEIGHT_ZERO_POINT)
            (used_as_weight if weight else used_otherwise).add(name)
    return (int8 & used_as_weight) - used_otherwise


def inexact_products(path: Path) -> list[str]:
    """The integer products of the model that this CPU's onnxruntime computes inexactly (empty: all
    exact): each node's own weights times activations over the whole unsigned range, against exact
    integer arithmetic. Also lists a node whose weights are signed, which only a VNNI CPU computes
    exactly."""
    import onnxruntime

    model = onnx.load(str(path))
    initializers = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    rng = np.random.default_rng(0)
    found = []
    for node in model.graph.node:
        if node.op_type != "MatMulInteger":
            continue
        weights = initializers[node.input[_WEIGHT]]
        zero_point = initializers[node.input[_WEIGHT_ZERO_POINT]]
        if weights.dtype == np.int8:
            found.append(f"{node.name}: signed int8 weights")
            continue
        a = rng.integers(0, 256, size=(8, weights.shape[0]), dtype=np.uint8)
        graph = onnx.helper.make_graph(
            [onnx.helper.make_node("MatMulInteger", ["A", "B", "a_zero", "b_zero"], ["Y"])],
            "product",
            [onnx.helper.make_tensor_value_info("A", onnx.TensorProto.UINT8, a.shape)],
            [onnx.helper.make_tensor_value_info("Y", onnx.TensorProto.INT32, None)],
            [
                numpy_helper.from_array(weights, "B"),
                numpy_helper.from_array(np.array(128, dtype=np.uint8), "a_zero"),
                numpy_helper.from_array(zero_point, "b_zero"),
            ],
        )
        product = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
        product.ir_version = 8
        session = onnxruntime.InferenceSession(
            product.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        (computed,) = session.run(None, {"A": a})
        exact = (a.astype(np.int64) - 128) @ (weights.astype(np.int64) - zero_point.astype(np.int64))
        if not np.array_equal(computed, exact):
            found.append(f"{node.name}: {int((computed != exact).sum())} of {exact.size} products differ")
    return found
