"""The frozen image encoder: an open_clip or timm model with its own evaluation preprocessing, producing
one pooled embedding per image (open_clip: `encode_image`, the CLIP embedding; timm: the pooled features
with the classifier head removed)."""

import os

import torch

from .tool_error import ToolError


def resolve_device(requested):
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise ToolError(f"--device {requested}: expected cpu, cuda, cuda:N or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ToolError(f"--device {requested}: CUDA is not available (torch {torch.__version__}, "
                        f"{'built without CUDA' if torch.version.cuda is None else 'no GPU visible'}): use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ToolError(f"--device {requested}: only {torch.cuda.device_count()} CUDA device(s) visible")
    if device.type not in ("cpu", "cuda"):
        raise ToolError(f"--device {requested}: expected cpu, cuda, cuda:N or auto")
    return device


class EmbeddingModel:
    def __init__(self, backend, name, pretrained, device):
        """`pretrained`: "none" for random initialisation (seeded, for tests), a weights tag (open_clip:
        e.g. `openai`, `laion2b_s32b_b82k`; timm: `hub` for the model name's default weights), or a local
        weights file."""
        self.description = f"{backend} {name} ({pretrained})"
        torch.manual_seed(0)  # random initialisation is part of the output: keep it reproducible
        try:
            if backend == "open_clip":
                self.model, self.preprocess = self.open_clip(name, pretrained)
            elif backend == "timm":
                self.model, self.preprocess = self.timm(name, pretrained)
            else:
                raise ToolError(f"--backend {backend}: expected open_clip or timm")
        except ToolError:
            raise
        except Exception as error:  # the libraries raise anything from RuntimeError to HTTP errors
            hint = ""
            if pretrained not in ("none",) and not os.path.exists(pretrained):
                hint = (" — weights are downloaded from the Hugging Face hub on first use; without access to it, "
                        "download the weights file elsewhere and pass its path as --pretrained")
            raise ToolError(f"cannot create {self.description}: {type(error).__name__}: {error}{hint}") from None
        self.model = self.model.to(device).eval()
        self.device = device

    @staticmethod
    def open_clip(name, pretrained):
        import open_clip

        if name not in open_clip.list_models():
            raise ToolError(f"--model {name} is not an open_clip model (e.g. ViT-L-14, ViT-B-32; "
                            f"python3 -c 'import open_clip; print(open_clip.list_models())' lists them)")
        model, _, preprocess = open_clip.create_model_and_transforms(
            name, pretrained=None if pretrained == "none" else pretrained)
        return model, preprocess

    @staticmethod
    def timm(name, pretrained):
        import timm
        import timm.data

        if not timm.list_models(name, pretrained=False) and not timm.list_models(name, pretrained=True):
            raise ToolError(f"--model {name} is not a timm model (e.g. resnet18, vit_large_patch14_clip_224.openai)")
        options = {"pretrained": pretrained != "none", "num_classes": 0}  # num_classes 0: pooled features
        if pretrained not in ("none", "hub"):
            if not os.path.isfile(pretrained):
                raise ToolError(f"--pretrained {pretrained}: for timm give none, hub or a weights file")
            options["pretrained_cfg_overlay"] = {"file": pretrained}
        model = timm.create_model(name, **options)
        config = timm.data.resolve_data_config({}, model=model)
        return model, timm.data.create_transform(**config)

    def embed(self, batch):
        """float32 [B, d] embeddings of a preprocessed batch [B, 3, H, W]."""
        with torch.inference_mode():
            batch = batch.to(self.device, non_blocking=True)
            features = self.model.encode_image(batch) if hasattr(self.model, "encode_image") else self.model(batch)
            return features.float().cpu().numpy()
