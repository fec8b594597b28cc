"""trending"""
