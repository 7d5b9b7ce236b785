"""Detection operations: prior/anchor generation, box coding, NMS variants,
RoI pooling/alignment, proposal generation, YOLO heads.

Shared conventions:

* a box corner/centre/size coordinate costs 1 FLOP per arithmetic step; box
  coding (``box_coder``, the decode inside ``generate_proposals``) is 6 per
  coordinate: centre and size of the prior and of the target (3), offset and
  scale or exp and scale (2), variance (1).
* one IoU costs 12 FLOPs (intersection width, height and area 3, the two box
  areas 6, union 2, divide 1); with unnormalised pixel boxes (+1 on each width
  and height) 16.
* NMS is data dependent (how many boxes pass the score threshold, how many are
  suppressed). Greedy NMS is priced at its worst case: every candidate passes
  the score threshold and none is suppressed, so ``k`` candidates (``nms_top_k``
  / ``pre_nms_top_n`` caps ``k`` when set) take ``k (k - 1) / 2`` IoUs, an upper
  bound. Matrix NMS computes exactly that triangle (+ the decay), bounded the
  same way by the score threshold.
* sorting, top-k, thresholds, clamps and gathers are free.
"""
from __future__ import annotations


from .registry import Cost, contraction, numel, op_formula, pointwise

BOX_CODE_PER_COORD = 6
IOU = 12
IOU_PIXEL = 16          # + 1 on each width and height of both boxes
BOX_GEN_PER_COORD = 2   # centre offset and half-size, normalisation


def iou_pairs(k: int) -> int:
    k = max(int(k), 0)
    return k * (k - 1) // 2


def _cap(k: int, top_k) -> int:
    try:
        top_k = int(top_k)
    except (TypeError, ValueError):
        return k
    return min(k, top_k) if top_k > 0 else k


def _attr(attrs, *names, default=None):
    """First attribute present under any of ``names`` (modern / legacy spellings)."""
    for n in names:
        if attrs.get(n) is not None:
            return attrs[n]
    return default


# ------------------------------------------------------------------ generation / coding

@op_formula("prior_box", args="input, image, min_sizes, max_sizes, aspect_ratios, variances, flip, clip, step_w, "
                                "step_h, offset, min_max_aspect_ratios_order",
            convention="2 per output box coordinate (centre +- half size, normalise); variances copied")
def prior_box_op(ins, outs, attrs):
    return pointwise(numel(outs[0]) if outs else 0, BOX_GEN_PER_COORD)


@op_formula("anchor_generator", args="input, anchor_sizes, aspect_ratios, variances, stride, offset",
            convention="2 per output anchor coordinate (centre +- half size); variances copied")
def anchor_generator_op(ins, outs, attrs):
    return pointwise(numel(outs[0]) if outs else 0, BOX_GEN_PER_COORD)


@op_formula("box_coder", args="prior_box, prior_box_var, target_box, code_type, box_normalized, axis, variance",
            convention="6 per output coordinate (prior/target centre and size 3, offset|exp and scale 2, variance 1)")
def box_coder_op(ins, outs, attrs):
    return pointwise(numel(outs[0]) if outs else 0, BOX_CODE_PER_COORD)


# ------------------------------------------------------------------ NMS

def _iou_cost(normalized) -> int:
    return IOU if normalized in (None, True) else IOU_PIXEL


def _classes(c: int, background_label) -> int:
    try:
        bg = int(background_label)
    except (TypeError, ValueError):
        bg = -1
    return c - 1 if 0 <= bg < c else c


def _nms_layout(ins):
    """(images, classes, boxes per image) of multiclass / matrix NMS inputs.

    Batched: bboxes [N, M, 4], scores [N, C, M]. Packed (with rois_num):
    bboxes [M, C, 4], scores [M, C] split over ``len(rois_num)`` images, counted
    as equal shares."""
    scores = ins.get("scores")
    if scores is None:
        return 0, 0, 0
    if len(scores) == 3:
        return int(scores[0]), int(scores[1]), int(scores[2])
    m, c = int(scores[0]), int(scores[1])
    rois = ins.get("rois_num")
    n = max(int(rois[0]), 1) if rois else 1
    return n, c, m // n


@op_formula("multiclass_nms3", args="bboxes, scores, rois_num, score_threshold, nms_top_k, keep_top_k, "
                                    "nms_threshold, normalized, nms_eta, background_label",
            convention="worst case (all boxes pass the score threshold, none suppressed): per image and "
                       "non-background class k(k-1)/2 IoUs, k = min(M, nms_top_k); IoU 12 (16 unnormalised)")
def multiclass_nms_op(ins, outs, attrs):
    n, c, m = _nms_layout(ins)
    k = _cap(m, attrs.get("nms_top_k"))
    per_iou = _iou_cost(attrs.get("normalized"))
    return pointwise(n * _classes(c, attrs.get("background_label")) * iou_pairs(k), per_iou)


@op_formula("matrix_nms", args="bboxes, scores, score_threshold, nms_top_k, keep_top_k, post_threshold, "
                                "use_gaussian, gaussian_sigma, background_label, normalized",
            convention="per image and non-background class: k(k-1)/2 IoUs (12, 16 unnormalised) + decay per pair "
                       "(linear 3, gaussian 5) + 1 per candidate; k = min(M, nms_top_k), all passing the "
                       "score threshold (upper bound)")
def matrix_nms_op(ins, outs, attrs):
    n, c, m = _nms_layout(ins)
    k = _cap(m, attrs.get("nms_top_k"))
    decay = 5 if attrs.get("use_gaussian") else 3
    per_class = iou_pairs(k) * (_iou_cost(attrs.get("normalized")) + decay) + k
    return pointwise(n * _classes(c, attrs.get("background_label")) * per_class, 1)


@op_formula("nms", args="x, threshold",
            convention="worst case (none suppressed): k(k-1)/2 IoUs of 12 FLOPs for k input boxes (upper bound)")
def nms_op(ins, outs, attrs):
    x = ins.get("x")
    return pointwise(iou_pairs(int(x[0]) if x else 0), IOU)


def proposals_cost(images: int, anchors_per_image: int, pre_nms_top_n, pixel_offset) -> Cost:
    """Decode the top ``pre_nms_top_n`` anchors of each image (6 per coordinate),
    their widths/heights for the min-size filter (4 per box), then worst-case NMS."""
    k = _cap(anchors_per_image, pre_nms_top_n)
    per_iou = IOU_PIXEL if pixel_offset in (None, True) else IOU
    per_image = k * (4 * BOX_CODE_PER_COORD + 4) + iou_pairs(k) * per_iou
    return pointwise(images * per_image, 1)


_PROPOSALS = ("per image: decode the top k = min(A*H*W, pre_nms_top_n) anchors (24 per box) + widths/heights "
              "(4 per box) + worst-case NMS k(k-1)/2 IoUs (16 with pixel offset, else 12): upper bound")


@op_formula("generate_proposals", args="scores, bbox_deltas, im_shape, anchors, variances, pre_nms_top_n, "
                                       "post_nms_top_n, nms_thresh, min_size, eta, pixel_offset",
            convention=_PROPOSALS)
def generate_proposals_op(ins, outs, attrs):
    scores = ins.get("scores")
    n = int(scores[0])
    return proposals_cost(n, numel(scores) // max(n, 1), _attr(attrs, "pre_nms_top_n", "pre_nms_topN"),
                          attrs.get("pixel_offset", True))


@op_formula("distribute_fpn_proposals", args="fpn_rois, rois_num, min_level, max_level, refer_level, refer_scale, "
                                             "pixel_offset",
            convention="8 per RoI for its level (w, h, area, sqrt, scale, log2, add, floor), +2 with pixel offset")
def distribute_fpn_proposals_op(ins, outs, attrs):
    rois = ins.get("fpn_rois")
    return pointwise(int(rois[0]) if rois else 0, 10 if attrs.get("pixel_offset", True) else 8)


# ------------------------------------------------------------------ RoI ops

ROI_SAMPLE = 8          # bilinear value: 4 multiplies + 3 adds, + accumulate into the bin
ROI_SAMPLE_WEIGHTS = 8  # per sample point, shared by all channels: fractional parts 4, corner weights 4


@op_formula("roi_align", args="x, boxes, boxes_num, pooled_height, pooled_width, spatial_scale, sampling_ratio, aligned",
            convention="per output element s samples x 8 (bilinear 7 + accumulate) + 1 divide, + 8 per sample point "
                       "for its weights (shared over channels); s = sampling_ratio^2, or 1 when adaptive "
                       "(sampling_ratio <= 0 depends on box sizes: a lower bound)")
def roi_align_op(ins, outs, attrs):
    out = outs[0] if outs else None
    if not out:
        return Cost()
    try:
        ratio = int(attrs.get("sampling_ratio", -1))
    except (TypeError, ValueError):
        ratio = -1
    samples = ratio * ratio if ratio > 0 else 1
    channels = int(out[1])
    bins = numel(out) // max(channels, 1)
    return pointwise(numel(out) * (samples * ROI_SAMPLE + 1) + bins * samples * ROI_SAMPLE_WEIGHTS, 1)


@op_formula("psroi_pool", args="x, boxes, boxes_num, pooled_height, pooled_width, output_channels, spatial_scale",
            convention="1 divide per output element; the adds over each bin depend on box sizes and are not "
                       "counted (a lower bound)")
def psroi_pool_op(ins, outs, attrs):
    return pointwise(numel(outs[0]) if outs else 0, 1)


@op_formula("correlation", args="input1, input2, pad_size, kernel_size, max_displacement, stride1, stride2, "
                                "corr_type_multiply",
            convention="numel(out) x C x kernel^2 MACs (patch dot products) + 1 divide per output", contraction=True)
def correlation_op(ins, outs, attrs):
    x = ins.get("input1")
    k = int(attrs.get("kernel_size", 1) or 1)
    out = numel(outs[0]) if outs else 0
    c = contraction(out * int(x[1]) * k * k)
    return c + pointwise(out, 1)


# ------------------------------------------------------------------ YOLO

YOLO_BOX_PER_ANCHOR = 31  # xy: sigmoid 3 + scale_x_y 2 + grid/size 2 (x2); wh: exp, anchor, size (x2); conf 3; corners+image 8
YOLO_IOU_AWARE = 6        # sigmoid of the IoU channel + the conf^(1-f) * iou^f blend


def _yolo_cells(x, class_num, iou_aware=False) -> int:
    """anchor-cells of a YOLO head [N, A*(5+C) (+A), H, W]."""
    per_anchor = 5 + int(class_num) + (1 if iou_aware else 0)
    return numel(x) // per_anchor


def yolo_decode_cost(cells: int, class_num: int, iou_aware: bool = False) -> int:
    return cells * (YOLO_BOX_PER_ANCHOR + 4 * int(class_num) + (YOLO_IOU_AWARE if iou_aware else 0))


@op_formula("yolo_box", args="x, img_size, anchors, class_num, conf_thresh, downsample_ratio, clip_bbox, scale_x_y, "
                             "iou_aware, iou_aware_factor",
            convention="per anchor-cell 31 (box decode) + 4 per class (sigmoid, x conf), +6 iou-aware; every cell "
                       "counted whatever conf_thresh keeps (upper bound)")
def yolo_box_op(ins, outs, attrs):
    c = int(attrs.get("class_num", 0))
    aware = bool(attrs.get("iou_aware"))
    return pointwise(yolo_decode_cost(_yolo_cells(ins.get("x"), c, aware), c, aware), 1)


@op_formula("yolo_box_head", args="x, anchors, class_num",
            convention="per anchor-cell: sigmoid (3) on x, y, conf and each class + exp on w, h (1 each)")
def yolo_box_head_op(ins, outs, attrs):
    c = int(attrs.get("class_num", 0))
    return pointwise(_yolo_cells(ins.get("x"), c) * (3 * (3 + c) + 2), 1)


@op_formula("yolo_box_post", args="boxes0, boxes1, boxes2, image_shape, image_scale, anchors0, anchors1, anchors2, "
                                  "class_num, conf_thresh, downsample_ratio0, downsample_ratio1, downsample_ratio2, "
                                  "clip_bbox, scale_x_y, nms_threshold",
            convention="yolo_box decode of the three heads + worst-case NMS over all their boxes per image "
                       "(k(k-1)/2 IoUs of 12: upper bound)")
def yolo_box_post_op(ins, outs, attrs):
    c = int(attrs.get("class_num", 0))
    heads = [ins.get(n) for n in ("boxes0", "boxes1", "boxes2") if ins.get(n) is not None]
    cells = sum(_yolo_cells(h, c) for h in heads)
    n = int(heads[0][0]) if heads else 1
    return pointwise(yolo_decode_cost(cells, c) + n * iou_pairs(cells // max(n, 1)) * IOU, 1)


@op_formula("yolo_loss", args="x, gt_box, gt_label, gt_score, anchors, anchor_mask, class_num, ignore_thresh, "
                              "downsample_ratio, use_label_smooth, scale_x_y",
            convention="7 per element of x (sigmoid 3 + its loss term 4) + one IoU (12) per (anchor-cell, "
                       "ground-truth box) for the ignore mask")
def yolo_loss_op(ins, outs, attrs):
    x, gt = ins.get("x"), ins.get("gt_box")
    c = int(attrs.get("class_num", 0))
    cells = _yolo_cells(x, c)
    boxes_per_image = int(gt[1]) if gt and len(gt) > 2 else 0
    return pointwise(7 * numel(x) + cells * boxes_per_image * IOU, 1)
