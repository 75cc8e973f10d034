# J-HMDB-21 with the paper's model (§4): the I3D encoder with Charades weights, 224 x 224 frames
# (the whole 320 x 240 frame resized; masks and boxes with it), 8-frame clips at stride 2, Adam,
# batch 8, 3 % initial frames + 3 % per cycle, T = 10, tau = 0.9, sigma = 1.3.
# Meant for a GPU. Set task.data_root, and task.encoder_weights to your local copy of
# pytorch-i3d's rgb_charades.pt (docs/datasets.md); a path that is not a file stops the run with
# an error before anything is read. Nothing is downloaded.
#   asl-run --config configs/action_det/jhmdb_i3d.py --cfg-options \
#       task.data_root=/path/to/JHMDB task.encoder_weights=/path/to/rgb_charades.pt
_base_ = ["./jhmdb21.py"]
task = dict(
    encoder="i3d",
    encoder_weights="/path/to/rgb_charades.pt",
    frame_size=(224, 224),
)
