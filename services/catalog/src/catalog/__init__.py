"""Home Craft 3D catalog service: Categories, products, images, 3D files, listing workflow, browse, search, home."""
