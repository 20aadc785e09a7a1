"""The files of a finished run folder: what the runner writes and the reports read.

This module is the contract between :mod:`evaluation.runs` and :mod:`evaluation.reports`, and the
only module of ``runs`` that ``reports`` imports: it holds names and this description, and
imports nothing.

``RUN_DIR/results.json`` (schema_version :data:`SCHEMA_VERSION`, written atomically by rank 0)::

    {"schema_version": 1,
     "config": {every EvaluateOptions field (paths as strings), "device_type", "world_size",
                "checkpoint_sha256"},
     "run": {"identity": {...the options that determine the numbers...},
             "fingerprint": sha256 hex of the identity,
             "world_size": int, "resumed_from_images": int (images already counted when this
             process started), "wall_seconds": float (this process)},
     "environment": {"python", "platform", "torch", "torchvision", "captum", "numpy", "opencv",
                     "infocam_captum", "evaluation", "device", "device_name", "seed",
                     "world_size", "num_threads"},
     "dataset": {"name", "split", "root", "num_images", "num_classes"},
     "model": {"name", "checkpoint", "weights", "random_init" (true: randomly initialised
               weights, a smoke test whose numbers mean nothing), "layer", "input_size",
               "num_classes", "mean", "std", "initialisation": "checkpoint" | "weights NAME" |
               "ImageNet-pretrained (...)" | "random (seed S)"},
     "protocol": {"name", "frame_size": [H, W], "window", "padding", "convention",
                  "fixed_threshold", "class_map"},
     "classification": {"top1_cls", "top5_cls"},
     "methods": {name: {<LocalizationAccumulator.compute(bootstrap)>, "images_per_second": float,
                        "attribution": {"kind": "fc" | "gradient" | "layer" | "input",
                                        "class": dotted path | null, "noise_tunnel": nt_type |
                                        null, "options": {the --method-option values},
                                        "defaults": {the benchmark's defaults in force, as
                                        rules}, "reduction": rule | null}}},
                 (with "intervals": {metric: [low, high] | null, "boxacc_v2_by_iou": {delta: [..]},
                  "curves": {"v1"|"v2": {delta: {"low": [...], "high": [...]}}}} and
                  "interval": {"method": "percentile bootstrap", "resamples": B, "seed": s,
                  "level": 0.95, "unit": "images", "best_threshold": "re-selected inside every
                  resample"})
     "throughput": {"forward_images_per_second", "evaluation_images_per_second",
                    "seconds": {"forward", "data", "loop", <method>: ...}},
     "gallery": {"file": "gallery.npz", "count": N} | null,
     "records": {"file": "records.npz", "image_ids_sha256": sha256 of the ids, one per line}
                | null}

A method's ``images_per_second`` is images / (time of the shared forward pass + the method's own
time: its maps, for the gradient methods an equal share of their one backward, for Score-CAM and
Captum classes their ``attribute`` call, and its accumulator update);
``forward_images_per_second`` is images / forward time; ``evaluation_images_per_second`` is
images / wall time of the whole loop (data waits included). Under torchrun the times are the
slowest rank's.

``RUN_DIR/gallery.npz`` (``np.savez_compressed``, written atomically just before the results;
arrays :data:`GALLERY_KEYS`):

- ``images`` uint8 (N, H, W, 3): the images in the evaluation frame (the model input, with the
  normalisation undone);
- ``image_ids`` (N,) str, ``labels`` (N,) int64, ``class_names`` (N,) str;
- ``gt_boxes`` float32 (N, G, 4), inclusive frame pixels, NaN rows as padding;
- ``methods`` (M,) str;
- ``maps`` float32 (M, N, H, W): each method's map resized to the frame (bicubic) and min-max
  normalised to [0, 1], as the metrics see it;
- ``pred_boxes`` float32 (M, N, 4): the V1 box at the method's best threshold (``best_threshold``
  of its results; NaN where the ``strict`` convention finds no box);
- ``ious`` float32 (M, N): that box's IoU with the best-matching GT box (the value the best and
  worst cases were ranked by);
- ``roles`` (M, N) str: ``"best"``, ``"worst"``, ``"sample"`` or ``""`` (an image selected for
  another method).

``RUN_DIR/records.npz`` (``np.savez_compressed``, written atomically before the results; the
per-image records of :mod:`evaluation.statistics.records`, arrays :data:`RECORDS_KEYS`):
``methods`` (M,) str, ``image_ids`` (N,) str, the shared ``thresholds``, ``fixed_threshold``,
``deltas``, ``iou_thresholds``, ``has_predictions``, ``filled``, ``top1``, ``top5``, ``labels``
(N,), and per method ``hits`` uint8 (M, N, 2, D, P) packed hit bits, ``attribution`` float64
(M, N, A) and ``pixels`` int64 (M, N, 2, T + 2) or (M, N, 2, 0) without masks.

``RUN_DIR/report.md`` and ``RUN_DIR/report.html`` (:data:`REPORT_FILES`) are the reports'; the
resumable state lives in ``RUN_DIR/state/`` (:mod:`evaluation.runs.state`).
"""

RESULTS_FILE = "results.json"
GALLERY_FILE = "gallery.npz"
REPORT_FILES = ("report.md", "report.html")
SCHEMA_VERSION = 1
RECORDS_FILE = "records.npz"
RECORDS_KEYS = ("methods", "image_ids", "thresholds", "fixed_threshold", "deltas",
                "iou_thresholds", "has_predictions", "filled", "top1", "top5", "labels", "hits",
                "attribution", "pixels")
GALLERY_KEYS = ("images", "image_ids", "labels", "class_names", "gt_boxes", "methods", "maps",
                "pred_boxes", "ious", "roles")
