"""Home Craft 3D engagement service: Engagement events, trending scores, reviews, seller ratings, Q&A and reports."""
