#!/usr/bin/python3
"""Exports ../shared/tools/gpu/sd15_unet.py's SD 1.5 UNet (the real module tree, random weights) at narrow widths, for
RealTreeSurgeryTests (OVDIFF_SD15_NARROW_UNET). The full-width tree: `sd15_unet.py OUT --export fp32` (3.4 GB).

  /usr/bin/python3 export_sd15_tree.py OUT_DIR [--tools ../../../../shared/tools/gpu]   -> OUT_DIR/unet/model.onnx (60 MB)
"""
import os, sys
import torch

out = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, sys.argv[sys.argv.index("--tools") + 1] if "--tools" in sys.argv else os.path.join(here, "../../../../shared/tools/gpu"))
import sd15_unet  # noqa: E402

torch.manual_seed(0)
model = sd15_unet.UNet2DConditionModel(ch=(32, 64, 128, 128)).eval()
inputs = (torch.randn(2, 4, 64, 64), torch.full((2,), 500.0), torch.randn(2, 77, 768))
os.makedirs(os.path.join(out, "unet"), exist_ok=True)
with torch.no_grad():
    torch.onnx.export(model, inputs, os.path.join(out, "unet", "model.onnx"), opset_version=17,
                      input_names=["sample", "timestep", "encoder_hidden_states"], output_names=["out_sample"],
                      dynamic_axes={k: {0: "B"} for k in ("sample", "timestep", "encoder_hidden_states")})
print(sum(p.numel() for p in model.parameters()), "parameters")
