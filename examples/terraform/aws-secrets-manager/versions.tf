terraform {
  required_version = ">= 1.5"

  required_providers {
    lacework = {
      source = "lacework/lacework"
    }
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 6.0"
    }
  }
}
