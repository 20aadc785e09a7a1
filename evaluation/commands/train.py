"""``wsol-bench train``: fine-tune a CAM-ready model with the infoCAM authors' recipe."""

from __future__ import annotations

import argparse
from pathlib import Path

DATASETS = ("cub", "tiny-imagenet", "wsol-metadata", "synthetic")
_DEFAULTS = {
    "epochs": 40, "batch_size": 32, "lr": 0.01, "lr_decay_epochs": 30, "lr_decay_factor": 0.1,
    "head_lr_ratio": 10.0, "momentum": 0.9, "weight_decay": 1e-4, "seed": 0,
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand."""
    parser = subparsers.add_parser(
        "train",
        help="fine-tune a model (SGD, Nesterov, head at 10x lr, step decay); checkpoints + log",
        description=(
            "Fine-tune a CAM-ready classifier with the infoCAM authors' recipe: SGD with "
            "momentum 0.9 and Nesterov, weight decay 1e-4, the head (ResNet: layer4 + fc; "
            "VGG16-GAP: conv6 + fc; otherwise the classifier) at --head-lr-ratio times the "
            "learning rate, step decay. Writes OUTPUT/checkpoint-last.pt and "
            "checkpoint-epoch-NNNN.pt after every epoch, and OUTPUT/train_log.jsonl. "
            "Prints one line per epoch and the final checkpoint path; progress goes to stderr "
            "(a bar on a terminal, a line every 30 s in a log file)."
        ),
    )
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", required=True, choices=DATASETS, help="dataset layout")
    data.add_argument("--data-root", required=True, type=Path, help="dataset folder")
    data.add_argument("--image-root", type=Path, default=None,
                      help="image folder (wsol-metadata only)")
    data.add_argument("--split", default="train", help="training split (default: train)")
    data.add_argument("--val-split", default=None,
                      help="also report top-1 accuracy on this split after every epoch")
    data.add_argument("--protocol", default="wsoleval", choices=("wsoleval", "paper", "exact"),
                      help="frame geometry the training crops follow (default: wsoleval)")
    data.add_argument("--image-size", type=int, default=None,
                      help="crop side S (default: the model's input size; under --protocol "
                           "paper the protocol's)")
    data.add_argument("--num-workers", type=int, default=0,
                      help="DataLoader worker processes (default: 0)")
    model = parser.add_argument_group("model")
    model.add_argument("--model", required=True,
                       help="resnet50, vgg16-gap, efficientnet-lite0, small-cnn or a torchvision "
                            "classifier with a GAP -> Linear head")
    init = model.add_mutually_exclusive_group()
    init.add_argument("--checkpoint", type=Path, default=None,
                      help="initial weights: a checkpoint file (wsol-bench train or a state_dict)")
    init.add_argument("--weights", default=None,
                      help="initial weights: torchvision weights name (IMAGENET1K_V1, DEFAULT)")
    recipe = parser.add_argument_group("recipe (defaults: the authors')")
    recipe.add_argument("--epochs", type=int, default=_DEFAULTS["epochs"],
                        help="epochs (default: %(default)s)")
    recipe.add_argument("--batch-size", type=int, default=_DEFAULTS["batch_size"],
                        help="images per step (default: %(default)s)")
    recipe.add_argument("--lr", type=float, default=_DEFAULTS["lr"],
                        help="base learning rate (default: %(default)s; authors: 0.01 ResNet, "
                             "0.001 VGG)")
    recipe.add_argument("--lr-decay-epochs", type=int, default=_DEFAULTS["lr_decay_epochs"],
                        help="multiply the learning rates by --lr-decay-factor every N epochs; "
                             "0: never (default: %(default)s)")
    recipe.add_argument("--lr-decay-factor", type=float, default=_DEFAULTS["lr_decay_factor"],
                        help="step-decay factor (default: %(default)s)")
    recipe.add_argument("--head-lr-ratio", type=float, default=_DEFAULTS["head_lr_ratio"],
                        help="head learning rate / base learning rate (default: %(default)s)")
    recipe.add_argument("--weight-decay", type=float, default=_DEFAULTS["weight_decay"],
                        help="weight decay (default: %(default)s)")
    recipe.add_argument("--momentum", type=float, default=_DEFAULTS["momentum"],
                        help="SGD momentum (default: %(default)s)")
    recipe.add_argument("--no-nesterov", action="store_true", help="plain momentum")
    recipe.add_argument("--loss", default="ce", choices=("ce", "pc-softmax"),
                        help="cross-entropy, or PC-softmax cross-entropy with the training "
                             "set's label priors (for imbalanced data) (default: ce)")
    recipe.add_argument("--prior-smoothing", type=float, default=0.0,
                        help="pseudo-count per class for the pc-softmax priors (default: 0)")
    execution = parser.add_argument_group("execution")
    execution.add_argument("--amp", action="store_true", help="mixed precision (CUDA only)")
    execution.add_argument("--device", default=None,
                           help="cpu, cuda, cuda:1 (default: CUDA if any)")
    execution.add_argument("--seed", type=int, default=_DEFAULTS["seed"],
                           help="seed of the initial weights, data order and augmentation "
                                "(default: %(default)s)")
    execution.add_argument("--checkpoint-every", type=int, default=1,
                           help="keep checkpoint-epoch-NNNN.pt every N epochs; 0: only "
                                "checkpoint-last.pt (default: 1)")
    execution.add_argument("--resume", action="store_true",
                           help="continue OUTPUT/checkpoint-last.pt (same options)")
    execution.add_argument("--no-progress", action="store_true",
                           help="no progress bar or progress lines")
    execution.add_argument("--output", required=True, type=Path, help="run folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the model and the data, train, print one line per epoch and the checkpoint path."""
    import torch

    from evaluation.datasets.loader import WSOLDataset, read_index
    from evaluation.models.backbones import build_model
    from evaluation.models.training import TrainOptions, train
    from evaluation.paths import check_output_folder

    options = TrainOptions(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        lr_decay_epochs=args.lr_decay_epochs, lr_decay_factor=args.lr_decay_factor,
        head_lr_ratio=args.head_lr_ratio, momentum=args.momentum,
        nesterov=not args.no_nesterov, weight_decay=args.weight_decay, loss=args.loss,
        prior_smoothing=args.prior_smoothing, num_workers=args.num_workers, amp=args.amp,
        seed=args.seed, checkpoint_every=args.checkpoint_every,
    )
    check_output_folder(args.output, "--output")
    index = read_index(args.dataset, args.data_root, args.split, args.image_root)
    torch.manual_seed(args.seed)
    model = build_model(args.model, index.num_classes, args.checkpoint, args.weights)
    size = args.image_size or (None if args.protocol == "paper" else model.input_size)
    normalization = (model.mean, model.std)
    train_data = WSOLDataset(index, args.protocol, normalization, size, train=True)
    val_data = None
    if args.val_split is not None:
        val_index = read_index(args.dataset, args.data_root, args.val_split, args.image_root)
        val_data = WSOLDataset(val_index, args.protocol, normalization, size, masks=False)

    def report(record: dict) -> None:
        val = f"  val acc {record['val_accuracy']:5.1f}%" if "val_accuracy" in record else ""
        print(
            f"epoch {record['epoch']:>3}/{options.epochs}  loss {record['loss']:.4f}  "
            f"acc {record['accuracy']:5.1f}%{val}  lr {record['lr']:.3g}  "
            f"{record['images_per_second']:.1f} img/s  {record['seconds']:.1f} s",
            flush=True,
        )

    path = train(
        model, train_data, options, args.output, resume=args.resume, device=args.device,
        val_data=val_data, progress=not args.no_progress, on_epoch=report,
    )
    print(f"checkpoint: {path}")
    return 0
