import CHDF5

enum StoragePlaceholder {}
