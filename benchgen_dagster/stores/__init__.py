"""Where benchgen keeps what it makes: a local folder or an S3 bucket, behind one protocol."""
