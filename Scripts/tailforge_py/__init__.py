"""Python companions of TailForge: `Scripts/extract-embeddings` (images → the input contract) and
`Scripts/plots` (pictures of balanced files, evaluation reports and ablations). They read and write
TailForge's HDF5 and JSON formats with h5py and the standard library only, so nothing here links Swift."""
