# UCF-101-24 with the paper's model (§4): the I3D encoder with Charades weights, 224 x 224 frames
# (the whole 320 x 240 frame resized; the ASL release crops 224 x 296 first), 8-frame clips at
# stride 2, Adam, batch 8, 1 % initial frames + 5 % per cycle, T = 10, tau = 0.9, sigma = 1.3.
# Meant for a GPU. Set task.data_root, and task.encoder_weights to your local copy of
# pytorch-i3d's rgb_charades.pt (docs/datasets.md); a path that is not a file stops the run with
# an error before anything is read. Nothing is downloaded.
#   asl-run --config configs/action_det/ucf101_24_i3d.py --cfg-options \
#       task.data_root=/path/to/UCF101_24 task.encoder_weights=/path/to/rgb_charades.pt
_base_ = ["./ucf101_24.py"]
task = dict(
    encoder="i3d",
    encoder_weights="/path/to/rgb_charades.pt",
    frame_size=(224, 224),
)
